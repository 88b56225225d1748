"""A local emulator of the Tripo3D REST API, v3 (https://openapi.tripo3d.ai/v3/...) at its root and v2
(https://api.tripo3d.ai/v2/openapi) under /v2/openapi, over shared accounts and tasks; for tests and offline demos.

    from tripo_emulator import Emulator
    emu = Emulator(port=0, time_scale=0.01, data_dir=tmp, api="v2").start()
    emu.v2_base_url  # http://127.0.0.1:<port>/v2/openapi
    emu.v3_base_url  # http://127.0.0.1:<port>  (v3 paths start with /v3/)
    emu.base_url     # the one of api=

It never imports tripo_addon; FBX/USDZ conversions run bpy in a child process."""

from .emulator import Emulator
from .errors import ERRORS, ApiError

__all__ = ["Emulator", "ApiError", "ERRORS"]
