from django.urls import path

from governance.views import cards, reports

app_name = "governance"

urlpatterns = [
    path("reports/<int:pk>/", reports.report_detail, name="report"),
    path("o/<slug:org>/models/<slug:slug>/v<int:number>/card/", cards.card_page, name="card"),
    path("o/<slug:org>/models/<slug:slug>/v<int:number>/card/edit/", cards.card_edit, name="card-edit"),
    path(
        "o/<slug:org>/models/<slug:slug>/v<int:number>/card/README.md",
        cards.card_readme,
        name="card-readme",
    ),
]
