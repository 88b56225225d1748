"""The v3 dialect of the emulator (tripo-api-v3.md): routes.py (handlers, route names), validation.py (v3 bodies ->
Plans, reusing the v2 validators), inputs.py (`input` references), view.py (the v3 task object), catalog.py."""
