"""The ceiling of the stack: a bare Django view that authenticates nothing and reads one row by primary key.

It runs behind the same middleware, gunicorn and PostgreSQL as the API, so an endpoint's throughput divided
by this view's is the share of the stack's capacity that the endpoint's own work leaves.
"""

from django.http import JsonResponse

from accounts.models import Tenant


def ceiling(request):
    try:
        pk = int(request.GET.get("id", "1"))
    except ValueError:
        pk = 1
    row = Tenant.objects.filter(pk=pk).values("id", "slug").first()
    return JsonResponse({"ok": True, "data": row})
