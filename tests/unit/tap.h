/*
 * TAP for the hand-written C test programs (cmocka's own TAP serves the others): one line per
 * check; each program prints the plan "1..N" at its end and exits 1 if any check failed.
 */
#ifndef NURTURED_TESTS_TAP_H
#define NURTURED_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int test_count;
static int test_failures;

/* Prints one TAP result line; the name is formatted like printf. */
static bool __attribute__((format(printf, 2, 3))) test_ok(bool pass, const char *fmt, ...)
{
	va_list ap;

	test_count++;
	if (!pass)
		test_failures++;
	printf("%sok %d - ", pass ? "" : "not ", test_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return pass;
}

#endif
