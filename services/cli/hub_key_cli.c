// hub_key_cli.c — see hub_key_cli.h.
#include "hub_key_cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "hub_key.h"

int hub_key_cli_print(const char *prog, const char *home)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "weft hub key: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "weft hub key: cannot fork: %s\n", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return EXIT_FAIL;
    }
    if (pid == 0) {  // weft-hub's errors go straight to our stderr
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(prog, prog, "--home", home, "--print-key", (char *)NULL);
        fprintf(stderr, "weft hub key: cannot run %s: %s\n", prog, strerror(errno));
        _exit(EXIT_FAIL);
    }
    close(fds[1]);
    char line[128] = "";
    FILE *in = fdopen(fds[0], "r");
    bool got = in && fgets(line, sizeof line, in) != NULL;
    if (in)
        fclose(in);
    else
        close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return EXIT_FAIL;  // weft-hub said why
    line[strcspn(line, "\r\n")] = '\0';
    char hex[HUB_KEY_HEX_LEN], why[256];
    if (hub_key_normalise(line, hex, why, sizeof why) != 0) {
        fprintf(stderr, "weft hub key: %s printed an unusable key: %s\n", prog, why);
        return EXIT_FAIL;
    }
    printf("%s\n", hex);
    return EXIT_OK;
}
