from django.urls import path

from members.api.views import ApiTokenDetailView, ApiTokenListView, MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("me/tokens/", ApiTokenListView.as_view(), name="api-me-tokens"),
    path("me/tokens/<int:pk>/", ApiTokenDetailView.as_view(), name="api-me-token"),
]
