"""Built-in plugins, one package each; every package exposes its ``plugin`` object."""
