"""A local emulator of the Tripo3D REST API v2 (https://api.tripo3d.ai/v2/openapi), for tests and offline demos.

    from tripo_emulator import Emulator
    emu = Emulator(port=0, time_scale=0.01, data_dir=tmp).start()
    emu.base_url   # http://127.0.0.1:<port>/v2/openapi

It never imports tripo_addon; FBX/USDZ conversions run bpy in a child process."""

from .emulator import Emulator
from .errors import ERRORS, ApiError

__all__ = ["Emulator", "ApiError", "ERRORS"]
