/* `nurtured render`: one template file rendered over JSON data, for template authors. */
#ifndef NURTURED_RENDER_H
#define NURTURED_RENDER_H

/* Prints the result on stdout; 0, 1 with "file:line:col: message" on stderr, 2 on misuse. */
int render_main(int argc, char **argv);

#endif
