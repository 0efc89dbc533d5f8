/* `nurtured simulate`: the engine offline on virtual time, printing what would happen. */
#ifndef NURTURED_SIMULATE_H
#define NURTURED_SIMULATE_H

/* ARGV as after the subcommand; returns the exit code. */
int simulate_main(int argc, char **argv);

#endif
