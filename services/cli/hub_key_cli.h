// hub_key_cli.h — `weft hub key`: the hub's public key in the form members paste (64 hex, hub_key.h).
#ifndef WEFT_CLI_HUB_KEY_CLI_H
#define WEFT_CLI_HUB_KEY_CLI_H

// Runs `prog --home home --print-key` (weft-hub: loads DIR/hub.key, creating it on first use, and prints
// the key in ZeroMQ's Z85), and prints the key as 64 hex characters. Returns an exit code (EXIT_OK,
// EXIT_FAIL, with the error on stderr).
int hub_key_cli_print(const char *prog, const char *home);

#endif
