"""The only code that touches sockets, threads and timers."""
