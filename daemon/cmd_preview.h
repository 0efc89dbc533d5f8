/* `nurtured preview`: a send step rendered for one customer, as it would be sent. */
#ifndef NURTURED_PREVIEW_H
#define NURTURED_PREVIEW_H

int preview_main(int argc, char **argv);

#endif
