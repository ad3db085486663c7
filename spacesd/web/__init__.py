"""The web view: a page for the person who runs the daemon, served by the daemon itself on
127.0.0.1 (`spacesd web`). `server.py` is the HTTP side (aiohttp, SSE), `auth.py` who gets in,
`api.py` the JSON the page reads and the writes it makes, `data.py` the views over the store;
`static/` holds the page (plain files: no build step)."""
