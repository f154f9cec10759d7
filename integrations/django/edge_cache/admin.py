"""A "Purge from edge cache" action on the admin of every registered model.

Attached when the app is ready and again at the first request, so the order of INSTALLED_APPS,
and whether register() runs in models.py or in AppConfig.ready(), does not matter.
"""

from django.contrib import admin, messages
from django.core.signals import request_started

from . import bulk, registry


@admin.action(description="Purge from edge cache", permissions=["change"])
def purge_from_edge_cache(modeladmin, request, queryset):
    count = queryset.count()
    bulk.purge_objects(queryset)
    modeladmin.message_user(request, "Purge of %d object(s) sent to the edge cache." % count, messages.SUCCESS)



def attach_actions(**kwargs):
    """Add the action to each registered model's ModelAdmin (idempotent; models whose admin sets
    actions = None keep none)."""
    from django.contrib.admin.sites import all_sites

    for site in list(all_sites):
        for model, model_admin in site._registry.items():
            actions = model_admin.actions
            if registry.registered(model) and actions is not None and purge_from_edge_cache not in actions:
                model_admin.actions = list(actions) + [purge_from_edge_cache]


def _first_request(**kwargs):
    request_started.disconnect(_first_request, dispatch_uid="edge_cache.admin")
    attach_actions()


def connect():
    attach_actions()
    request_started.connect(_first_request, dispatch_uid="edge_cache.admin")
