"""Delivery: turn an edition into one email per subscriber and hand them to a transport.

Modules, in the order a message meets them:
    compose.py      which variant a subscriber gets; their message bytes
    message.py      the MIME built once per variant, personalised as bytes; notice()
    headers.py      header values that cannot inject headers (RFC 2047, quoting)
    qp.py           quoted-printable pieces that join as bytes
    signing.py      DKIM (dkimpy), when configured
    transports.py   smtp, file:DIR (.eml files) and memory, behind send()
    smtp_client.py  the SMTP session (pipelining, connection reuse)
    failures.py     TemporaryFailure / PermanentFailure and which replies throttle or bounce
    throttle.py     the shared rate limit, slow-down on throttling, the retry schedule
    lanes.py        the send loop's connections: non-blocking SMTP, or any transport's send()
    engine.py       the send loop and its ledger (exactly once, even after kill -9)
    lock.py         one send per database
    service.py      send / dry run / test copy / status, as the CLI calls them
    schedule.py     when `digest run` builds (RRULE)
    cron.py         `digest run`
    progress.py     a progress bar on a terminal, log lines for cron
"""
