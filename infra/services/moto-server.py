"""moto_server, plus the one piece of AWS Glue behaviour the Glue catalog tests depend on and moto lacks.

AWS Glue's UpdateTable takes an optional VersionId and refuses the update with
ConcurrentModificationException ("Update table failed due to concurrent modifications.") when the
table has moved past that version. That check is what makes an Iceberg commit through Glue safe: a
committer that read version N loses to one that already wrote N+1. moto 5.2.5 accepts the request and
ignores VersionId (moto/glue/responses.py update_table), so on a stock moto_server two racing
committers silently overwrite each other, and a test of the conflict path could never pass.

This wraps moto's UpdateTable handler: under one lock (moto_server is threaded), compare the request's
VersionId with the table's current version, raise AWS's error on a mismatch, else let moto update.
Everything else is moto unchanged. Started by infra/services/moto.sh with the moto venv's python and
moto_server's arguments.
"""

import threading

from moto import server
from moto.glue.exceptions import GlueClientError
from moto.glue.responses import GlueResponse


class ConcurrentModificationException(GlueClientError):
    """AWS's answer to a stale VersionId (HTTP 400, the same __type and message as AWS)."""

    def __init__(self) -> None:
        super().__init__(
            "ConcurrentModificationException",
            "Update table failed due to concurrent modifications.",
        )


_update_lock = threading.Lock()
_moto_update_table = GlueResponse.update_table


def _update_table_checking_version(self: GlueResponse):
    with _update_lock:
        version_id = self.parameters.get("VersionId")
        if version_id is not None:
            table = self.glue_backend.get_table(
                self.parameters.get("DatabaseName"), self.parameters["TableInput"]["Name"]
            )
            # FakeTable keeps its current version as an int; as_dict() reports it as a string.
            if str(table._current_version) != str(version_id):
                raise ConcurrentModificationException()
        return _moto_update_table(self)


GlueResponse.update_table = _update_table_checking_version

if __name__ == "__main__":
    server.main()
