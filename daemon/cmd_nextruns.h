/* `nurtured next-runs`: when a scheduled campaign will run next, for its author. */
#ifndef NURTURED_NEXTRUNS_H
#define NURTURED_NEXTRUNS_H

/* ARGV as after the subcommand; returns the exit code. */
int nextruns_main(int argc, char **argv);

#endif
