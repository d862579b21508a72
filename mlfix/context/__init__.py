"""Build-context facts: Docker's .dockerignore rules and a pruned walk of the context."""
