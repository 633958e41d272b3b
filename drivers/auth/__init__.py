"""The auth layer: where credentials come from (`credentials`: the chain, helpers;
`dockerconfig`: Docker's config.json) and how they are presented (`strategies`: Basic, static
tokens, login exchanges; `challenge`: the registry's Basic/Bearer challenge flow)."""
