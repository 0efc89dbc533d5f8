/*
 * `nurtured migrate --from sqlite:DATA_DIR --to postgresql://...` (issue 21): moves an
 * installation from the SQLite store to PostgreSQL, every table, in one consistent copy.
 */
#ifndef NURTURED_CMD_MIGRATE_H
#define NURTURED_CMD_MIGRATE_H

/* ARGV as after the subcommand; returns the exit code (0 copied, 1 refused or failed, 2 usage). */
int migrate_main(int argc, char **argv);

#endif
