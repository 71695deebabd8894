/* SPDX-License-Identifier: MIT */
/* tools/xmppdctl/main.c: xmppdctl's arguments and its table of commands. */
#include <stdio.h>
#include <string.h>

#include "tools/xmppdctl/ctl.h"

typedef struct ctl_command {
    const char *name;
    const char *args; /* shown in the usage */
    ctl_command_fn *run;
} ctl_command;

static int ctl_cmd_help(const char *config, int argc, char **argv)
{
    (void)config;
    (void)argc;
    (void)argv;
    ctl_help_print(stdout);
    return CTL_EXIT_OK;
}

/* A new command is one line here, one function and a section of the manual. */
static const ctl_command ctl_commands[] = {
    {.name = "start", .args = " [-f]", .run = ctl_cmd_start},
    {.name = "stop", .args = "", .run = ctl_cmd_stop},
    {.name = "restart", .args = " [-f]", .run = ctl_cmd_restart},
    {.name = "status", .args = "", .run = ctl_cmd_status},
    {.name = "check-config", .args = "", .run = ctl_cmd_check_config},
    {.name = "adduser", .args = " JID [--password-file FILE]", .run = ctl_cmd_adduser},
    {.name = "passwd", .args = " JID [--password-file FILE]", .run = ctl_cmd_passwd},
    {.name = "deluser", .args = " JID", .run = ctl_cmd_deluser},
    {.name = "listusers", .args = " [DOMAIN...]", .run = ctl_cmd_listusers},
    {.name = "help", .args = "", .run = ctl_cmd_help},
};

void ctl_usage_print(FILE *out)
{
    fputs("usage: xmppdctl [-c FILE] COMMAND [ARGS]\ncommands:", out);
    for (size_t i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++)
        fprintf(out, "%s %s%s", i ? "," : "", ctl_commands[i].name,
                ctl_commands[i].args);
    fputs("\nTry 'xmppdctl --help' for the manual.\n", out);
}

static int ctl_usage_error(const char *fmt, const char *arg)
{
    fputs("xmppdctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    ctl_usage_print(stderr);
    return CTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            ctl_help_print(stdout);
            return CTL_EXIT_OK;
        } else if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
            if (i + 1 >= argc)
                return ctl_usage_error("%s needs a FILE", arg);
            config = argv[++i];
        } else if (strncmp(arg, "--config=", 9) == 0) {
            config = arg + 9;
        } else if (strncmp(arg, "-c", 2) == 0) {
            config = arg + 2;
        } else {
            return ctl_usage_error("unknown option '%s'", arg);
        }
    }
    if (i == argc)
        return ctl_usage_error("%s", "no command given");
    for (size_t c = 0; c < sizeof ctl_commands / sizeof ctl_commands[0]; c++) {
        if (strcmp(argv[i], ctl_commands[c].name) == 0)
            return ctl_commands[c].run(config, argc - i, argv + i);
    }
    return ctl_usage_error("unknown command '%s'", argv[i]);
}
