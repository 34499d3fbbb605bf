# pmdabpftrace: a PCP agent in C that turns bpftrace scripts into metrics.
#
#   make            build the agent
#   make install    install into $(PCP_PMDAS_DIR)/bpftrace (then ./Install there)
#   make check      unit, fuzz smoke and integration tests; ends "N passed, N failed"
#   make unit       unit tests only (no root, no pmcd)
#   make asan       unit + integration tests with AddressSanitizer/UBSan
#   make valgrind   an integration session under valgrind, no definite leaks
#   make fuzz       the libFuzzer targets for longer (FUZZ_SECONDS, default 60)
#   make bench      side-by-side benchmark against PCP's Python agent
#   make soak       the agent under load for SOAK_MINUTES (default 5): RSS and fds

PCP_CONF	:= $(shell . /etc/pcp.env 2>/dev/null; echo "$$PCP_PMDAS_DIR|$$PCP_SYSCONF_DIR|$$PCP_VAR_DIR")
PCP_PMDAS_DIR	?= $(word 1,$(subst |, ,$(PCP_CONF)))
PCP_SYSCONF_DIR	?= $(word 2,$(subst |, ,$(PCP_CONF)))
PMDADIR		= $(DESTDIR)$(PCP_PMDAS_DIR)/bpftrace

CC		?= cc
BUILD		?= build
OPT		?= -O2 -g
SAN		?=
WARN		= -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers
PKG_CFLAGS	:= $(shell pkg-config --cflags json-c 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
CFLAGS		+= $(OPT) $(WARN) $(SAN) -D_GNU_SOURCE -fno-strict-aliasing -std=gnu11 $(PKG_CFLAGS)
LDLIBS		+= -lpcp_pmda -lpcp $(PKG_LIBS)

SRCS		:= $(wildcard src/*.c)
LIB_SRCS	:= $(filter-out src/pmda.c,$(SRCS))
LIB_OBJS	:= $(patsubst src/%.c,$(BUILD)/%.o,$(LIB_SRCS))
UNIT_SRCS	:= $(wildcard test/unit/test_*.c)
UNIT_BINS	:= $(patsubst test/unit/%.c,$(BUILD)/%,$(UNIT_SRCS))

.PHONY: all install uninstall unit check helpers bench-helpers asan valgrind fuzz fuzz-smoke bench soak clean clobber

all: pmdabpftrace

pmdabpftrace: $(BUILD)/pmda.o $(BUILD)/libagent.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/libagent.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/test_%: test/unit/test_%.c $(BUILD)/libagent.a $(wildcard test/unit/*.h)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/libagent.a $(LDFLAGS) -lcmocka $(LDLIBS)

# test helpers the integration tests run (they build them with make helpers)
HELPERS		:= $(BUILD)/store_and_fetch $(BUILD)/names_watch

helpers: $(HELPERS)

$(BUILD)/store_and_fetch: test/helpers/store_and_fetch.c | $(BUILD)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpcp

$(BUILD)/names_watch: test/helpers/names_watch.c | $(BUILD)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpcp

$(BUILD):
	mkdir -p $@

unit: $(UNIT_BINS)
	@test/run-tests --unit-only $(UNIT_BINS)

# the bench helpers are built by check too, so that none of them rots unseen
check: all $(UNIT_BINS) helpers bench-helpers
	@test/run-tests $(UNIT_BINS)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		pmdabpftrace-asan unit-asan
	AGENT_BIN=$(CURDIR)/pmdabpftrace-asan test/run-tests --integration-only

pmdabpftrace-asan: $(BUILD)/pmda.o $(BUILD)/libagent.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

unit-asan: $(UNIT_BINS)
	@test/run-tests --unit-only $(UNIT_BINS)

valgrind: all
	test/valgrind-session

fuzz fuzz-smoke:
	$(MAKE) -C test/fuzz $@

bench-helpers: $(BUILD)/libagent.a
	$(MAKE) -s -C bench BUILD=$(CURDIR)/$(BUILD)

bench: all bench-helpers
	bench/run

soak: all
	bench/soak

# The Python agent's files are kept once, beside ours, for bench/ to compare.
PYTHON_COPY	= $(DESTDIR)$(PCP_PMDAS_DIR)/.bpftrace-python-agent

install: all
	mkdir -p $(PMDADIR) $(PMDADIR)/autostart $(PMDADIR)/scripts
	if [ -f $(PMDADIR)/pmdabpftrace.python ] && [ ! -d $(PYTHON_COPY) ]; then \
		cp -a $(PMDADIR) $(PYTHON_COPY); fi
	rm -rf $(PMDADIR)/bpftrace $(PMDADIR)/pmdabpftrace.python $(PMDADIR)/__pycache__
	install -m 755 pmdabpftrace Install Remove $(PMDADIR)/
	install -m 644 help pmns domain.h $(PMDADIR)/
	install -m 644 scripts/*.bt $(PMDADIR)/scripts/
	printf '#include <stdpmid>\nroot {\n#include "pmns"\n}\n' > $(PMDADIR)/root
	test -f $(PMDADIR)/bpftrace.conf || install -m 644 bpftrace.conf $(PMDADIR)/

uninstall:
	rm -f $(PMDADIR)/pmdabpftrace $(PMDADIR)/root

clean:
	rm -rf build build-asan pmdabpftrace pmdabpftrace-asan
	-$(MAKE) -C test/fuzz clean 2>/dev/null

clobber: clean
