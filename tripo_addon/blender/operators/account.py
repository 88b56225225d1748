"""Account operators: test the connection (shows the balance or names the failure) and refresh the balance.

Both run the request in a background thread and return at once; ``drain.drain()`` shows the answer.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty

from .. import catalog, drain, runtime, tasklist, wakeup
from .base import OnlineOperator


class _AccountOperator(OnlineOperator):
    wait: BoolProperty(name="Wait", description="Block until the answer is in (scripts)", options={'SKIP_SAVE'})
    kind = "balance"

    def execute(self, context):
        state = context.window_manager.tripo
        try:
            runtime.request_balance(self.kind, context)
        except Exception as exc:
            if not catalog.is_tripo_error(exc):
                raise
            self.report({'ERROR'}, catalog.user_message(exc))
            return {'CANCELLED'}
        state.checking = True
        if self.kind == "connection":
            state.connection_text = "Connecting\u2026"
            state.connection_ok = False
        if self.wait:
            runtime.background.join(120.0)
            drain.drain(context)
            text = state.connection_text if self.kind == "connection" else (
                state.balance_text or f"Balance: {tasklist.format_credits(state.balance)} credits")
            ok = state.connection_ok if self.kind == "connection" else not state.balance_text
            self.report({'INFO'} if ok else {'ERROR'}, text)
            return {'FINISHED'} if ok else {'CANCELLED'}
        wakeup.ensure_running(context)
        return {'FINISHED'}


class TRIPO_OT_test_connection(_AccountOperator, bpy.types.Operator):
    """Check the API key and the connection to Tripo: shows your balance, or says what failed"""

    bl_idname = "tripo.test_connection"
    bl_label = "Test Connection"
    bl_options = {'REGISTER'}
    kind = "connection"


class TRIPO_OT_refresh_balance(_AccountOperator, bpy.types.Operator):
    """Ask Tripo for your current credit balance"""

    bl_idname = "tripo.refresh_balance"
    bl_label = "Refresh Balance"
    bl_options = {'REGISTER'}
    kind = "balance"


CLASSES = (TRIPO_OT_test_connection, TRIPO_OT_refresh_balance)
