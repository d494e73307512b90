"""Pure RDAP: names and query kinds, bootstrap matching (RFC 9224), decoding and
normalizing answers (RFC 9083, jCard, JSContact, RFC 9537 redactions), personal data.

No I/O and nothing of the engine, the store, the frames or the batch.
"""
