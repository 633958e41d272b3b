"""One module per command group; each registers its commands on `ci_env.app.app`."""
