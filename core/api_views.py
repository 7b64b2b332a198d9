"""API endpoints that belong to no app: the root and the health check."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

VERSION = "2.0.0"


class RootApi(APIView):
    """The earlier edition's `GET /`: name, version, health."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"message": "AWS AutoML Lite API", "version": VERSION, "status": "healthy"})


class HealthApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(
            {
                "status": "healthy",
                "service": "automl-api",
                "region": settings.AWS_REGION,
                "backend": settings.AUTOML_BACKEND,
            }
        )
