"""The web page for people: search, look at stamps, submit bulk files, make mosaics, watch jobs.

Static HTML, CSS and JavaScript modules (``static/``), served by the API
under ``<base>/ui/`` (:mod:`skycut.api.ui_route`). The page calls only the
service's public endpoints (SIA 2.0, SODA sync and async, UWS job lists of
cutouts and mosaics, mosaic/sync, DataLink, bulk validation) with the
caller's own credentials, so it can do nothing a script could not, and it
needs nothing from outside (no CDN, no web fonts).
"""
