"""Provider notifications (server to server) and the demo provider's checkout page."""

from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("<slug:tenant_slug>/<slug:provider>/notify/", views.notify, name="notify"),
    path("demo/checkout/<uuid:public_id>/", views.demo_checkout, name="demo-checkout"),
]
