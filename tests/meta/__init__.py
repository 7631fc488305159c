"""The project around the code: the docs build and their code blocks run,
types, lint and packaging, and the benchmark app measures what it claims."""
