# fd_pass_tests.cmake — lib/fd_pass (one fd and a text tag over a unix stream socket, SCM_RIGHTS) over real
# unix sockets in /tmp: a pipe passed and used across, and bad messages refused without leaking an fd.
weft_unit_test(test_fd_pass TEST fd_pass)
