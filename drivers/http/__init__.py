"""The HTTP layer: the urllib3 client (`client`, `response`), proxies and TLS (`proxies`,
`tls`), and the transport to one registry (`transport`, with `retry`). It sets `Authorization`
only through an auth strategy (`drivers.auth`)."""
