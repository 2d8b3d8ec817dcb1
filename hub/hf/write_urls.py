"""The Hub's write routes, as huggingface_hub builds them from HF_ENDPOINT: /api/repos/create,
/api/validate-yaml, /api/models/{org}/{name}/preupload|commit/{revision}, and the Git LFS routes under
/{org}/{name}.git/info/lfs/."""

from django.urls import re_path

from hub.hf import write_views

REPO = r"(?P<org>[\w.\-]+)/(?P<name>[\w\-]+)"
OBJECT = rf"^{REPO}\.git/info/lfs/objects/(?P<oid>[0-9a-f]{{64}})"

urlpatterns = [
    re_path(r"^api/repos/create$", write_views.create_repository, name="hf-repo-create"),
    re_path(r"^api/validate-yaml$", write_views.validate_yaml, name="hf-validate-yaml"),
    re_path(rf"^api/models/{REPO}/preupload/(?P<revision>.+)$", write_views.preupload, name="hf-preupload"),
    re_path(rf"^api/models/{REPO}/commit/(?P<revision>.+)$", write_views.commit, name="hf-commit"),
    re_path(
        rf"^api/models/{REPO}/xet-write-token(?:/(?P<revision>.+))?$",
        write_views.xet_write_token,
        name="hf-xet-write-token",
    ),
    re_path(
        rf"^api/(?P<repo_type>datasets|spaces)/{REPO}/(?:preupload|commit|xet-write-token)(?:/.*)?$",
        write_views.unsupported_repo_type,
        name="hf-unsupported-upload",
    ),
    re_path(rf"^{REPO}\.git/info/lfs/objects/batch$", write_views.lfs_batch, name="hf-lfs-batch"),
    re_path(rf"{OBJECT}$", write_views.lfs_upload, name="hf-lfs-upload"),
    re_path(rf"{OBJECT}/verify$", write_views.lfs_verify, name="hf-lfs-verify"),
    re_path(rf"^{REPO}/commit/(?P<oid>[0-9a-f]{{40}})$", write_views.commit_page, name="hf-commit-page"),
]
