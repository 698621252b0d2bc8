"""Runs the Azure CLI in this process, changing one thing: the soft-delete
retention days that `az acr manifest list-deleted` and `list-deleted-tags`
read from Azure Resource Manager (the registry's
policies.soft_delete_policy.retention_days, in manifest.py's
_get_soft_delete_retention_days), which a local registry does not serve,
come from AZ_RETENTION_DAYS instead. Everything else is az's own code: its
arguments, credentials, requests to the registry and paging, the fields it
reads from the answers (deletedAt, digest, tag) and the expiresAfter it
computes from deletedAt.

    AZ_RETENTION_DAYS=7 python3 az_soft_delete.py acr manifest list-deleted -r NAME -n REPO -u USER -p PASSWORD

Run it with the python that runs az (/usr/bin/python3 for Debian's
azure-cli).
"""

import inspect
import os
import runpy
import sys

from azure.cli.command_modules.acr import manifest


def retention_days(cmd, registry_name):  # pylint: disable=unused-argument
    return int(os.environ["AZ_RETENTION_DAYS"])


# Stubbing a function that az no longer calls, or calls differently, would
# prove nothing: refuse instead.
want = ["cmd", "registry_name"]
got = list(inspect.signature(manifest._get_soft_delete_retention_days).parameters)
if got != want:
    sys.exit(f"az_soft_delete.py: az's _get_soft_delete_retention_days takes {got}, not {want}: update this stub")
manifest._get_soft_delete_retention_days = retention_days
sys.argv = ["az"] + sys.argv[1:]
runpy.run_module("azure.cli", run_name="__main__", alter_sys=True)
