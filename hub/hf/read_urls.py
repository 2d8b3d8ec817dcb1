"""The Hub's read routes, as huggingface_hub builds them from HF_ENDPOINT: /api/models/{org}/{name}...,
/{org}/{name}/resolve/{revision}/{path}, and the same for datasets under /api/datasets/ and /datasets/."""

from django.urls import re_path

from hub.hf import read_views

REPO = r"(?P<org>[\w.\-]+)/(?P<name>[\w.\-]+)"
# A revision is one path segment (main, v3, production, a commit id), or a full refs/heads|tags/ name.
REVISION = r"(?P<revision>(?:refs/(?:heads|tags)/)?[^/]+)"


def _repository_routes(repo_type: str) -> list:
    api = rf"^api/{repo_type}s/{REPO}"
    kind = {"repo_type": repo_type}
    return [
        re_path(rf"{api}$", read_views.repository_info, kind, name=f"hf-{repo_type}-info"),
        re_path(
            rf"{api}/revision/(?P<revision>.+)$",
            read_views.repository_info,
            kind,
            name=f"hf-{repo_type}-revision-info",
        ),
        re_path(
            rf"{api}/tree/{REVISION}(?:/(?P<path>.*))?$",
            read_views.repository_tree,
            kind,
            name=f"hf-{repo_type}-tree",
        ),
        re_path(
            rf"{api}/paths-info/(?P<revision>.+)$",
            read_views.repository_paths_info,
            kind,
            name=f"hf-{repo_type}-paths-info",
        ),
        re_path(rf"{api}/refs$", read_views.repository_refs, kind, name=f"hf-{repo_type}-refs"),
        re_path(
            rf"{api}/commits/(?P<revision>.+)$",
            read_views.repository_commits,
            kind,
            name=f"hf-{repo_type}-commits",
        ),
    ]


urlpatterns = [
    *_repository_routes("model"),
    *_repository_routes("dataset"),
    re_path(
        rf"^datasets/{REPO}/resolve/{REVISION}/(?P<path>.+)$",
        read_views.resolve_file,
        {"repo_type": "dataset"},
        name="hf-dataset-resolve",
    ),
    re_path(
        rf"^{REPO}/resolve/{REVISION}/(?P<path>.+)$",
        read_views.resolve_file,
        {"repo_type": "model"},
        name="hf-model-resolve",
    ),
    re_path(r"^api/(?P<repo_type>models|datasets|spaces)(?:/.*)?$", read_views.unknown_endpoint),
]
