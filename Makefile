# Daz — build, test, run, bench, fuzz and format targets. `make help` lists them.

PKGS      := libwebsockets json-c libpq
VERSION   := $(shell cat VERSION)$(shell git describe --always --dirty --exclude '*' 2>/dev/null | sed 's/^/+/')
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpqtypes -lm

CC       ?= cc
WARN     := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -DDAZ_VERSION='"$(VERSION)"' -Idaemon $(PKG_CFLAGS)
CFLAGS   ?= -O2 -g
LDLIBS   += $(PKG_LIBS)

SRC      := $(wildcard daemon/*.c)
LIB_SRC  := $(filter-out daemon/main.c,$(SRC))
OBJ      := $(SRC:daemon/%.c=build/obj/%.o)

# Unit tests: every tests/unit/test_*.c, linked with the daemon minus main.c, under ASan+UBSan.
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/unit/%)
SAN_OBJ  := $(LIB_SRC:daemon/%.c=build/san/%.o)

# Fuzz targets: every tests/fuzz/fuzz_*.c, built with clang's libFuzzer.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 60

.PHONY: all test run bench fuzz unit format format-check clean help setup

all: dazd

help:
	@echo "make            build ./dazd"
	@echo "make test       install what is missing, build, run every suite (unit, sql, integration)"
	@echo "make run        run the bot: local PostgreSQL + demo CyTube (or CONFIG=path for real rooms)"
	@echo "make bench      run the benchmarks under tests/bench/ (slow; writes tests/bench/results/)"
	@echo "make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS (60)"
	@echo "make unit       build the unit tests (ASan+UBSan) into build/unit/"
	@echo "make format / format-check   clang-format the C sources / check they are formatted"

setup:
	@scripts/setup

dazd: $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/obj/%.o: daemon/%.c | build/obj
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c -o $@ $<

build/san/%.o: daemon/%.c | build/san
	$(CC) $(CPPFLAGS) $(WARN) -O1 -g $(SAN) -MMD -MP -c -o $@ $<

unit: $(UNIT_BIN)

build/unit/%: tests/unit/%.c $(SAN_OBJ) $(wildcard daemon/*.h tests/unit/*.h) | build/unit
	$(CC) $(CPPFLAGS) -DDAZ_ROOT='"$(CURDIR)"' $(WARN) -Wno-missing-prototypes -O1 -g $(SAN) \
		-o $@ $< $(SAN_OBJ) $(LDLIBS) -lcmocka

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
		mkdir -p build/fuzz/corpus-$$name; \
		echo "fuzzing $$name for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
			build/fuzz/corpus-$$name $$( [ -d $$corpus ] && echo $$corpus ) || exit 1; \
	done

build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) | build/fuzz
	clang $(CPPFLAGS) -std=gnu11 -Wall -Wextra -Werror -O1 -g \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRC) $(LDLIBS)

build/obj build/san build/unit build/fuzz:
	@mkdir -p $@

test:
	@scripts/test

run:
	@scripts/run $(CONFIG)

bench:
	@scripts/bench

format:
	clang-format -i $(wildcard daemon/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)

format-check:
	clang-format --dry-run -Werror $(wildcard daemon/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)

clean:
	rm -rf build dazd

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d)
