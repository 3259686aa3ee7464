/*-------------------------------------------------------------------------
 *
 * cascades.c
 *		Refusing a purge whose foreign-key actions would change, and fire the
 *		triggers of, another role's table.
 *
 * A purge deletes jobs, and with them (ON DELETE CASCADE) their chunks and
 * counts.  A table that references one of those tables with an action on
 * delete (CASCADE, SET NULL, SET DEFAULT) has its rows deleted or changed
 * too, and so may the tables that reference it in turn.  PostgreSQL runs
 * those actions, and the BEFORE triggers they fire, as each table's owner,
 * but the AFTER triggers they fire run when the purge's statement ends, as
 * the purge does: with the privileges of the purge function's owner (a
 * superuser, unless the README's set-up for another owner was run), since
 * the functions are SECURITY DEFINER.  A role that owns such a table, may
 * create triggers on it, or owns the function of one of its triggers could
 * thereby gain those privileges.  So a purge first follows the keys, and
 * refuses (42501) when a table it reaches, or one of the extension's,
 * belongs to a role that is neither a superuser nor the role the purge runs
 * as, or another role than a superuser (or than the purge's role on its own
 * table) may create triggers on it (TRIGGER granted, to it or to PUBLIC),
 * or owns the function of one of its triggers or a function its WHEN
 * condition calls, or owns a table it is a partition of (whose triggers
 * and indexes are made on the partition too).
 *
 * Each table is locked ROW EXCLUSIVE (the lock the purge's changes take)
 * before its owner, privileges and triggers and the keys that reference it
 * are read, with a catalog snapshot taken after that: a change of owner, a
 * new trigger or a key added meanwhile (each takes a lock that conflicts)
 * is then either seen, or waits for the purge; whatever the isolation level
 * of the purge's transaction.  A grant of TRIGGER does not wait, but the
 * trigger it allows does.  Whether a role is a superuser can change without
 * a lock on any table: jc_purge_job() checks after any wait for the job;
 * jc_purge_jobs(), which waits for no job, before it changes anything.
 *
 * src/cascades.c
 *
 *-------------------------------------------------------------------------
 */
#include "jobchunk.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

/* The extension's tables a purge deletes from, crawl_jobs first */
static const char *const purged_tables[] = {"crawl_jobs", "job_chunks", "job_counts"};

/* Whether a foreign key's action changes the referencing rows */
static bool
changes_rows(char action)
{
	return action == FKCONSTR_ACTION_CASCADE ||
		action == FKCONSTR_ACTION_SETNULL ||
		action == FKCONSTR_ACTION_SETDEFAULT;
}

/*
 * Refuse to purge, because of table relid.
 */
static void
refuse(Oid relid, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("jobs cannot be purged while the purge would change rows of table %s",
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid))),
			 errdetail("%s", _(detail)),
			 errhint("%s", _(hint))));
}

/* The owner of table relid */
static Oid
owner_of(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* The owners of the tables that table relid is a partition of, if any */
static List *
ancestor_owners(Oid relid)
{
	List	   *owners = NIL;

	if (get_rel_relispartition(relid))
	{
		ListCell   *lc;

		foreach(lc, get_partition_ancestors(relid))
			owners = lappend_oid(owners, owner_of(lfirst_oid(lc)));
	}
	return owners;
}

/*
 * Whether the role the purge runs as (the owner of the SECURITY DEFINER
 * function, GetUserId()) owns a table, whose owner is relowner, and every
 * table it is a partition of, whose owners are ancestors (ancestor_owners()).
 */
static bool
purge_role_owns(Oid relowner, List *ancestors)
{
	ListCell   *lc;

	if (relowner != GetUserId())
		return false;
	foreach(lc, ancestors)
	{
		if (lfirst_oid(lc) != GetUserId())
			return false;
	}
	return true;
}

/*
 * Whether code that role controls on a table gains nothing when the purge
 * runs it; own: whether the purge role owns the table (purge_role_owns()).
 * A foreign key's action changes a table's rows as the owner of the table
 * the key is defined on (a partition's ancestor, for a key of a partitioned
 * table), who also runs the BEFORE triggers it fires; its AFTER triggers run
 * when the purge's statement ends, as the purge.  So role must be a
 * superuser, or the role the purge runs as on a table all its own.
 */
static bool
trusted(Oid role, bool own)
{
	return superuser_arg(role) || (role == GetUserId() && own);
}

/*
 * Whether an untrusted role owns function func; own points to trusted()'s
 * own.  Also a check_functions_in_node() callback.
 */
static bool
untrusted_function(Oid func, void *own)
{
	HeapTuple	function = SearchSysCache1(PROCOID, ObjectIdGetDatum(func));
	Oid			owner;

	if (!HeapTupleIsValid(function))
		elog(ERROR, "cache lookup failed for function %u", func);
	owner = ((Form_pg_proc) GETSTRUCT(function))->proowner;
	ReleaseSysCache(function);
	return !trusted(owner, *(bool *) own);
}

/* Whether expression node calls a function that an untrusted role owns */
static bool
calls_untrusted_function(Node *node, void *own)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, untrusted_function, own))
		return true;
	return expression_tree_walker(node, calls_untrusted_function, own);
}

/*
 * Refuse to purge if a trigger of table relid runs a function, or has a
 * WHEN condition that calls one, that an untrusted role owns (and so can
 * replace); own as for trusted().
 */
static void
check_triggers(Oid relid, bool own)
{
	Relation	triggers = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(triggers, TriggerRelidNameIndexId, true, NULL,
							  1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_trigger trigger = (Form_pg_trigger) GETSTRUCT(tuple);

		if (trigger->tgisinternal)
			continue;
		if (untrusted_function(trigger->tgfoid, &own))
			refuse(relid,
				   gettext_noop("One of its triggers runs a function whose owner is not a superuser, and the purge would run it with the privileges of another role."),
				   gettext_noop("Have a superuser own the function of each trigger on the table, or drop the trigger."));
		if (!heap_attisnull(tuple, Anum_pg_trigger_tgqual, NULL))
		{
			bool		isnull;
			Datum		qual = heap_getattr(tuple, Anum_pg_trigger_tgqual,
											RelationGetDescr(triggers), &isnull);

			if (calls_untrusted_function(stringToNode(TextDatumGetCString(qual)), &own))
				refuse(relid,
					   gettext_noop("The WHEN condition of one of its triggers calls a function whose owner is not a superuser, and the purge would run it with the privileges of another role."),
					   gettext_noop("Have a superuser own the functions the WHEN conditions of the table's triggers call, or drop the trigger."));
		}
	}
	systable_endscan(scan);
	table_close(triggers, AccessShareLock);
}

/*
 * Refuse to purge unless table relid, which the purge would change, belongs
 * to a superuser or to the role the purge runs as, no untrusted role may
 * create triggers on it, and its triggers' functions are trusted roles'
 * (see trusted()).  The table must be locked already: its owner cannot
 * change then, nor its triggers (ALTER TABLE OWNER and CREATE TRIGGER need
 * stronger locks).
 */
static void
check_table(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			relowner;
	List	   *ancestors;
	bool		own;
	ListCell   *lc;
	Datum		acl_datum;
	bool		isnull;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	relowner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ancestors = ancestor_owners(relid);
	own = purge_role_owns(relowner, ancestors);
	if (!trusted(relowner, own))
		refuse(relid,
			   gettext_noop("Neither a superuser nor the role the purge runs as owns it (and every table it is a partition of): the purge would change its rows, and fire its triggers, with the privileges of another role."),
			   gettext_noop("Make the foreign keys that lead to it NO ACTION and delete the rows that reference a job before purging it, or have a superuser own the table."));

	/*
	 * The owner of a table it is a partition of may have put code on it
	 * (triggers and indexes made on that table are made on its partitions).
	 */
	foreach(lc, ancestors)
	{
		if (!trusted(lfirst_oid(lc), own))
			refuse(relid,
				   gettext_noop("It is a partition of a table whose owner is not a superuser, and the purge would run code that role put on it with the privileges of another role."),
				   gettext_noop("Have a superuser own every table the partition belongs to."));
	}

	acl_datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relacl, &isnull);
	if (!isnull)
	{
		Datum	   *items;
		int			nitems;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ACLITEMOID, &typlen, &typbyval, &typalign);
		deconstruct_array(DatumGetArrayTypeP(acl_datum), ACLITEMOID, typlen,
						  typbyval, typalign, &items, NULL, &nitems);
		for (int i = 0; i < nitems; i++)
		{
			AclItem    *item = (AclItem *) DatumGetPointer(items[i]);
			Oid			grantee = item->ai_grantee;

			if ((ACLITEM_GET_PRIVS(*item) & ACL_TRIGGER) != 0 &&
				(grantee == ACL_ID_PUBLIC || !trusted(grantee, own)))
				refuse(relid,
					   gettext_noop("A role that is not a superuser may create triggers on it, which the purge would fire with the privileges of another role."),
					   gettext_noop("Revoke TRIGGER on the table from every role that is not a superuser."));
		}
	}
	ReleaseSysCache(tuple);
	check_triggers(relid, own);
}

/*
 * Refuse to purge when the foreign keys' actions would reach a table of a
 * role other than a superuser or the one the purge runs as, or one whose
 * triggers an untrusted role may create or replace (see check_table()),
 * the extension's own tables included: from the extension's tables, the
 * keys with an action on delete; from the tables reached, whose rows are
 * deleted or have their keys changed, the keys with an action on delete or
 * update.  Needs jc_connect() first, for the extension's schema.
 */
void
jc_check_cascades(void)
{
	List	   *tables = NIL;
	Relation	constraints;

	for (int i = 0; i < (int) lengthof(purged_tables); i++)
	{
		Oid			relid = get_relname_relid(purged_tables[i], jc_schema());

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table %s of extension jobchunk not found",
							quote_qualified_identifier(get_namespace_name(jc_schema()),
													   purged_tables[i])),
					 errhint("Give the extension's tables back their names.")));
		tables = lappend_oid(tables, relid);
	}

	constraints = table_open(ConstraintRelationId, AccessShareLock);
	for (int i = 0; i < list_length(tables); i++)
	{
		Oid			table = list_nth_oid(tables, i);
		bool		extensions_own = i < (int) lengthof(purged_tables);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tuple;

		CHECK_FOR_INTERRUPTS();
		LockRelationOid(table, RowExclusiveLock);
		check_table(table);
		ScanKeyInit(&key, Anum_pg_constraint_confrelid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(table));
		scan = systable_beginscan(constraints, InvalidOid, false, NULL, 1, &key);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tuple);

			if (con->contype == CONSTRAINT_FOREIGN &&
				(changes_rows(con->confdeltype) ||
				 (!extensions_own && changes_rows(con->confupdtype))) &&
				!list_member_oid(tables, con->conrelid))
				tables = lappend_oid(tables, con->conrelid);
		}
		systable_endscan(scan);
	}
	table_close(constraints, AccessShareLock);
	list_free(tables);
}
