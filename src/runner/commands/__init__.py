"""One module per CLI verb: each decides what to do and prints the result."""
