"""A test-only URLconf: views that exercise the API plumbing (body parsing, crashes) in isolation."""

from django.urls import include, path, re_path
from rest_framework import serializers

from core.api.router import index_php
from core.api.views import KeyedApiView, ok


class EchoView(KeyedApiView):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=20)
        count = serializers.IntegerField(min_value=1, max_value=10)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return ok(data.validated_data)


class CrashView(KeyedApiView):
    def get(self, request):
        raise RuntimeError("secret internals: password=hunter2")


probe_patterns = [
    re_path(r"^echo/?$", EchoView.as_view()),
    re_path(r"^crash/?$", CrashView.as_view()),
]

urlpatterns = [
    path("api/v1/index.php", index_php),
    path("api/v1/", include(probe_patterns)),
]
