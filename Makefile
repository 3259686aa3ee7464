# jobchunk/Makefile

MODULE_big = jobchunk
OBJS = \
	src/jobchunk.o \
	src/checks.o \
	src/chunk_check.o \
	src/counts.o \
	src/notify.o \
	src/cancel_lock.o \
	src/jobs.o \
	src/cascades.o \
	src/plans.o \
	src/create.o \
	src/transitions.o \
	src/claim.o \
	src/commit.o \
	src/read.o \
	src/statistics.o \
	src/shard.o

EXTENSION = jobchunk jobchunk_proxy
DATA = jobchunk--1.0.sql jobchunk--1.0--1.1.sql jobchunk--1.1--1.2.sql jobchunk--1.2--1.3.sql \
	jobchunk--1.3--1.4.sql jobchunk--1.4--1.5.sql jobchunk--1.5--1.6.sql jobchunk--1.6--1.7.sql jobchunk--1.7--1.8.sql \
	jobchunk--1.8--1.9.sql jobchunk--1.9--1.10.sql jobchunk--1.10--1.9.sql \
	jobchunk--1.10--1.11.sql jobchunk--1.11--1.10.sql \
	jobchunk_proxy--1.0.sql jobchunk_proxy--1.0--1.1.sql jobchunk_proxy--1.1--1.2.sql jobchunk_proxy--1.2--1.3.sql \
	jobchunk_proxy--1.3--1.4.sql jobchunk_proxy--1.4--1.5.sql jobchunk_proxy--1.5--1.6.sql \
	jobchunk_proxy--1.6--1.5.sql jobchunk_proxy--1.6--1.7.sql jobchunk_proxy--1.7--1.6.sql
PGFILEDESC = "jobchunk - chunked batch jobs in the server"

REGRESS = setup create_chunks transitions claim read statistics leases batch release jobs plans commit nested gucs bad_input privileges owner search_path dump chunk_check retry_all drop upgrade

ISOLATION = claim create leases jobs positions cancel version cascade read
ISOLATION_OPTS = --inputdir=test --load-extension=jobchunk

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src
# scripts/ (and so CI) build with WERROR=-Werror: warnings are errors there,
# and not by default, so that a newer compiler's new warning does not stop
# a build from source.
WERROR ?=
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter $(WERROR)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The TAP tests' shared set-up (after PGXS, which sets PG_PROVE_FLAGS)
PG_PROVE_FLAGS += -I $(srcdir)/test/perl

# Every source includes the shared header
$(OBJS): src/jobchunk.h
