/*
 * Issue 22: the dashboard at /ui/ on the daemon's own listener. Pages are rendered on the
 * server with the project's Mustache renderer from templates installed with the daemon; their
 * data comes through the API's own handlers and the store's operations.
 */
#ifndef NURTURED_UI_H
#define NURTURED_UI_H

struct http_req;

/* Whether PATH is the dashboard's ("/ui" or under "/ui/"). */
int ui_path(const char *path);
/* Answers HR for PATH with CMD (an evhttp_cmd_type): login, sessions, pages, actions. */
void ui_dispatch(struct http_req *hr, const char *path, int cmd);

#endif
