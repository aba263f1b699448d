# ECS: a self-hosted elastic compute service. See README.md.
#
#   make            build every library and binary
#   make check      unit tests (cmocka) and the structure lint (include cycles, file sizes)
#   make memcheck   unit tests under valgrind (leaks and memory errors fail)
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 15)
#   make test       install what is missing, build, run unit and end-to-end tests
#   make bench      benchmarks (each prints the peer's figure beside ours)
#   make image      build the tiny guest image
#   make up / down  start / stop the single-host service
#   make install PREFIX=/usr/local
#   make clean

PREFIX ?= /usr/local
BUILD ?= build
CC ?= gcc
PYTHON ?= /usr/bin/python3
# The slowest tests in every run's summary: where the suite's time goes (CI must stay under 60 min).
PYTEST_ARGS ?= --durations=30

# Lazy (=): pkg-config runs only when a rule needs it, after install-deps.
LIB_PKGS := json-c libmicrohttpd libcurl openssl
AGENT_PKGS := libvirt libnl-3.0 libnl-route-3.0 libcap-ng sqlite3 libxml-2.0
ECSCTL_PKGS := libssh
PKG_CFLAGS = $(shell pkg-config --cflags $(LIB_PKGS) $(AGENT_PKGS) $(ECSCTL_PKGS))
PKG_LIBS = $(shell pkg-config --libs $(LIB_PKGS))
AGENT_LIBS = $(shell pkg-config --libs $(AGENT_PKGS)) -lrbd -lrados
ECSCTL_LIBS = $(shell pkg-config --libs $(ECSCTL_PKGS))
# librados has no pkg-config file in Debian (librados-dev).
CTL_LIBS := -lrbd -lrados -lprotobuf-c
TEST_LIBS = $(shell pkg-config --libs cmocka)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -MP
CPPFLAGS += -Ilib -Inetfilter
# agent/ and controller/ both have e.g. instance.h: each test sees only its daemon's headers.
$(BUILD)/tests/unit/test_agent_%.o: CPPFLAGS += -Iagent
$(BUILD)/tests/unit/test_ctl_%.o: CPPFLAGS += -Icontroller
LDLIBS += -lpthread

# --- libecs -----------------------------------------------------------------
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBECS := $(BUILD)/lib/libecs.a

# --- libecsnf: netfilter/*.c, security-group and SLB rules rendered for iptables ---
NF_SRCS := $(wildcard netfilter/*.c)
NF_OBJS := $(NF_SRCS:%.c=$(BUILD)/%.o)
LIBNF := $(BUILD)/netfilter/libecsnf.a

# --- ecs-agent: agent/*.c; all but main.c also form libagent for unit tests ----
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/%.o)
LIBAGENT := $(BUILD)/agent/libagent.a

# --- ecs-controller: controller/*.c; all but main.c form libcontroller ----------
CTL_SRCS := $(filter-out controller/main.c,$(wildcard controller/*.c))
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/controller/console_assets.o
# The console's tables pages (console_ots.c) speak ecs-otsd's protocol with its own encoders.
CTL_OTS_OBJS := $(BUILD)/storage/ots/plainbuf.o $(BUILD)/storage/ots/ots_sign.o $(BUILD)/storage/ots/ots.pb-c.o
CTL_OBJS += $(CTL_OTS_OBJS)
# The web console's files (console/), built into the controller (console_assets.h).
CONSOLE_FILES := $(wildcard console/*.html console/*.css console/*.js console/*.svg)
LIBCTL := $(BUILD)/controller/libcontroller.a

# --- ecsctl: ecsctl/*.c; all but main.c also form libecsctl for unit tests -----
ECSCTL_SRCS := $(filter-out ecsctl/main.c,$(wildcard ecsctl/*.c))
# `ecsctl oss` signs as ecs-ossd checks: OSS V1 from storage/oss/sigv1.c.
ECSCTL_OBJS := $(ECSCTL_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/storage/oss/sigv1.o
LIBECSCTL := $(BUILD)/ecsctl/libecsctl.a

# --- ecs-ossd: storage/oss/*.c; all but main.c form libossd (unit tests, fuzz) ---
# storage/common/*.c (the controller's keys, the cluster connection) goes into both gateways.
STORAGE_COMMON_SRCS := $(wildcard storage/common/*.c)
OSS_SRCS := $(filter-out storage/oss/main.c,$(wildcard storage/oss/*.c)) $(STORAGE_COMMON_SRCS)
OSS_OBJS := $(OSS_SRCS:%.c=$(BUILD)/%.o)
LIBOSS := $(BUILD)/storage/oss/libossd.a
OSS_LIBS = -lrados $(shell pkg-config --libs libxml-2.0)

# --- ecs-otsd: storage/ots/*.c and the protobuf-c code protoc-c makes of storage/ots/ots.proto
OTS_PROTO_C := $(BUILD)/storage/ots/ots.pb-c.c
OTS_SRCS := $(filter-out storage/ots/main.c,$(wildcard storage/ots/*.c)) $(STORAGE_COMMON_SRCS)
OTS_OBJS := $(OTS_SRCS:%.c=$(BUILD)/%.o) $(OTS_PROTO_C:%.c=%.o)
LIBOTS := $(BUILD)/storage/ots/libotsd.a
OTS_LIBS = -lrados -lprotobuf-c

# --- binaries ----------------------------------------------------------------
BINS := $(BUILD)/bin/ecs-agent $(BUILD)/bin/ecsctl $(BUILD)/bin/ecs-controller $(BUILD)/bin/ecs-ossd \
	$(BUILD)/bin/ecs-otsd

# --- unit tests: tests/unit/test_<module>.c -> build/tests/unit/test_<module> --
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)

# --- benchmarks: tests/bench/bench_<name>.c -> build/tests/bench/bench_<name> --
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(BUILD)/%)

# Keep objects made through pattern chains (make would delete them as intermediates).
.SECONDARY:

.PHONY: all check memcheck test e2e bench image up down install clean deps fuzz console-test-deps
all: $(LIBECS) $(LIBNF) $(BINS) $(UNIT_BINS) $(BENCH_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(LIBECS): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBNF): $(NF_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBAGENT): $(AGENT_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBCTL): $(CTL_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/gen/console_assets.c: $(CONSOLE_FILES) $(BUILD)/gen/novnc.js scripts/embed_console.py
	$(PYTHON) scripts/embed_console.py $@ $(CONSOLE_FILES) $(BUILD)/gen/novnc.js

# noVNC (npm @novnc/novnc as console/package-lock.json pins it), bundled into one script.
CONSOLE_NPM_DIR := $(BUILD)/console-npm
$(BUILD)/gen/novnc.js: console/package.json console/package-lock.json console/bundle_novnc.py
	@mkdir -p $(CONSOLE_NPM_DIR)
	cp console/package.json console/package-lock.json $(CONSOLE_NPM_DIR)/
	cd $(CONSOLE_NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) console/bundle_novnc.py $@ $(CONSOLE_NPM_DIR)/node_modules/@novnc/novnc

$(BUILD)/controller/console_assets.o: $(BUILD)/gen/console_assets.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Icontroller $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/ecs-controller: $(BUILD)/controller/main.o $(LIBCTL) $(LIBECS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBCTL) $(LIBECS) $(AGENT_LIBS) $(CTL_LIBS) $(PKG_LIBS) -lcrypt $(LDLIBS)

# ecs-ossd's headers (store.h, api.h, …) for its own objects and tests only.
$(BUILD)/storage/oss/%.o $(BUILD)/tests/unit/test_oss_%.o: CPPFLAGS += -Istorage/oss -Istorage/common
$(BUILD)/storage/common/%.o: CPPFLAGS += -Istorage/common

$(LIBOSS): $(OSS_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/ecs-ossd: $(BUILD)/storage/oss/main.o $(LIBOSS) $(LIBECS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBOSS) $(LIBECS) $(OSS_LIBS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/unit/test_oss_%: $(BUILD)/tests/unit/test_oss_%.o $(LIBOSS) $(LIBECS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBOSS) $(LIBECS) $(OSS_LIBS) $(PKG_LIBS) $(TEST_LIBS) $(LDLIBS)

# ecs-otsd: its headers and the generated ots.pb-c.h for its own objects and tests, and the
# console's tables pages.
$(BUILD)/storage/ots/%.o $(BUILD)/tests/unit/test_ots_%.o: CPPFLAGS += -Istorage/ots -Istorage/common \
	-I$(BUILD)/storage/ots
$(BUILD)/controller/console_ots.o: CPPFLAGS += -Istorage/ots -I$(BUILD)/storage/ots
# (explicit targets: a pattern rule without a recipe would add no prerequisite)
OTS_UNIT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/unit/test_ots_*.c))
$(OTS_OBJS) $(BUILD)/storage/ots/main.o $(OTS_UNIT_OBJS) $(BUILD)/controller/console_ots.o: | $(OTS_PROTO_C)

$(BUILD)/storage/ots/ots.pb-c.c: storage/ots/ots.proto
	@mkdir -p $(@D)
	protoc-c --proto_path=storage/ots --c_out=$(@D) $<

$(BUILD)/storage/ots/ots.pb-c.o: $(BUILD)/storage/ots/ots.pb-c.c
	$(CC) $(CPPFLAGS) -I$(BUILD)/storage/ots $(CFLAGS) -c -o $@ $<

$(LIBOTS): $(OTS_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/ecs-otsd: $(BUILD)/storage/ots/main.o $(LIBOTS) $(LIBECS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBOTS) $(LIBECS) $(OTS_LIBS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/unit/test_ots_%: $(BUILD)/tests/unit/test_ots_%.o $(LIBOTS) $(LIBECS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBOTS) $(LIBECS) $(OTS_LIBS) $(PKG_LIBS) $(TEST_LIBS) $(LDLIBS)

$(BUILD)/bin/ecs-agent: $(BUILD)/agent/main.o $(LIBAGENT) $(LIBNF) $(LIBECS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBAGENT) $(LIBNF) $(LIBECS) $(AGENT_LIBS) $(PKG_LIBS) $(LDLIBS)

# ecsctl's headers (profile.h, client.h, …) for its own objects and tests only.
$(BUILD)/ecsctl/%.o $(BUILD)/tests/unit/test_ecsctl_%.o: CPPFLAGS += -Iecsctl
$(BUILD)/ecsctl/verbs_oss.o: CPPFLAGS += -Istorage/oss

$(LIBECSCTL): $(ECSCTL_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/ecsctl: $(BUILD)/ecsctl/main.o $(LIBECSCTL) $(LIBECS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBECSCTL) $(LIBECS) $(ECSCTL_LIBS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/unit/test_ecsctl_%: $(BUILD)/tests/unit/test_ecsctl_%.o $(LIBECSCTL) $(LIBECS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBECSCTL) $(LIBECS) $(ECSCTL_LIBS) $(PKG_LIBS) $(TEST_LIBS) $(LDLIBS)

$(BUILD)/tests/bench/%: $(BUILD)/tests/bench/%.o $(LIBNF) $(LIBECS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBNF) $(LIBECS) $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBAGENT) $(LIBCTL) $(LIBNF) $(LIBECS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBAGENT) $(LIBCTL) $(LIBNF) $(LIBECS) $(AGENT_LIBS) $(CTL_LIBS) $(PKG_LIBS) $(TEST_LIBS) -lcrypt $(LDLIBS)

check: $(UNIT_BINS)
	$(PYTHON) scripts/lint/structure.py
	tests/unit/run.sh $(UNIT_BINS)

memcheck: $(UNIT_BINS)
	ECS_UNIT_WRAPPER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9" \
		tests/unit/run.sh $(UNIT_BINS)

# --- fuzz: tests/fuzz/fuzz_<name>.c, built with clang, ASan and UBSan ---------
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:lib/%.c=$(BUILD)/fuzz/lib/%.o)
FUZZ_CFLAGS = -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined

$(BUILD)/fuzz/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(PKG_LIBS) $(LDLIBS)

# fuzz_oss also takes ecs-ossd's parsers (storage/oss/sigv1.c, sigv4.c, chunked.c, checksum.c,
# parse.c) and libxml2.
FUZZ_OSS_OBJS := $(BUILD)/fuzz/oss/sigv1.o $(BUILD)/fuzz/oss/sigv4.o $(BUILD)/fuzz/oss/chunked.o \
	$(BUILD)/fuzz/oss/checksum.o $(BUILD)/fuzz/oss/parse.o

$(BUILD)/fuzz/oss/%.o: storage/oss/%.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Istorage/oss -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/fuzz_oss: tests/fuzz/fuzz_oss.c $(FUZZ_OSS_OBJS) $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Istorage/oss -fsanitize=fuzzer -o $@ $< $(FUZZ_OSS_OBJS) $(FUZZ_LIB_OBJS) \
		$(shell pkg-config --libs libxml-2.0) $(PKG_LIBS) $(LDLIBS)

# fuzz_ots takes ecs-otsd's decoders (PlainBuffer, keys, rows, filters, signature headers) and its
# protobuf-c messages.
FUZZ_OTS_OBJS := $(BUILD)/fuzz/ots/plainbuf.o $(BUILD)/fuzz/ots/key.o $(BUILD)/fuzz/ots/row.o \
	$(BUILD)/fuzz/ots/ots_sign.o $(BUILD)/fuzz/ots/filter.o $(BUILD)/fuzz/ots/ots.pb-c.o

$(BUILD)/fuzz/ots/%.o: storage/ots/%.c $(OTS_PROTO_C)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Istorage/ots -I$(BUILD)/storage/ots -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(BUILD)/fuzz/ots/ots.pb-c.o: $(OTS_PROTO_C)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -I$(BUILD)/storage/ots -fsanitize=fuzzer-no-link -c -o $@ $<

$(BUILD)/fuzz/fuzz_ots: tests/fuzz/fuzz_ots.c $(FUZZ_OTS_OBJS) $(FUZZ_LIB_OBJS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Istorage/ots -I$(BUILD)/storage/ots -fsanitize=fuzzer -o $@ $< $(FUZZ_OTS_OBJS) \
		$(FUZZ_LIB_OBJS) -lprotobuf-c $(PKG_LIBS) $(LDLIBS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_BINS)

deps:
	scripts/install-deps.sh

# The README's second command: everything a clean clone needs, then every test.
test: deps
	$(MAKE) all
	$(MAKE) image
	$(MAKE) check
	$(MAKE) memcheck
	$(MAKE) fuzz
	$(MAKE) e2e

e2e: all image console-test-deps
	$(PYTHON) -m pytest tests/e2e $(PYTEST_ARGS)

# The web console's browser tests: playwright-core as tests/e2e/console/package-lock.json pins it
# (the browser is Debian's chromium, scripts/install-deps.sh).
CONSOLE_TEST_DIR := $(BUILD)/console-test
console-test-deps: $(CONSOLE_TEST_DIR)/node_modules/.package-lock.json
$(CONSOLE_TEST_DIR)/node_modules/.package-lock.json: tests/e2e/console/package.json tests/e2e/console/package-lock.json
	@mkdir -p $(CONSOLE_TEST_DIR)
	cp tests/e2e/console/package.json tests/e2e/console/package-lock.json $(CONSOLE_TEST_DIR)/
	cd $(CONSOLE_TEST_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: all image
	tests/bench/run.sh $(BENCH_BINS) $(wildcard tests/bench/bench_*.py)

image:
	images/build.sh $(BUILD)/images/tiny

up:
	scripts/up.sh

down:
	scripts/down.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/ecs/images/tiny
	$(if $(BINS),install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/)
	install -D -m 644 ecsctl/ecsctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ecsctl
	if [ -f $(BUILD)/images/tiny/manifest.json ]; then \
		install -m 644 $(BUILD)/images/tiny/manifest.json $(BUILD)/images/tiny/disk.qcow2 \
			$(BUILD)/images/tiny/vmlinuz $(BUILD)/images/tiny/initrd.img \
			$(DESTDIR)$(PREFIX)/share/ecs/images/tiny/; \
	fi

clean:
	rm -rf $(BUILD)/lib $(BUILD)/tests $(BUILD)/bin $(BUILD)/fuzz/lib $(BUILD)/fuzz/fuzz_* $(BUILD)/agent $(BUILD)/controller $(BUILD)/ecsctl \
		$(BUILD)/netfilter $(BUILD)/storage $(BUILD)/fuzz/oss $(BUILD)/fuzz/ots

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
