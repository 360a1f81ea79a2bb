"""filegate: an OpenAI-compatible Files API gateway, and its SDK.

The SDK has LiteLLM's Files functions, each async with a sync twin:
``acreate_file`` / ``create_file``, ``alist_files`` / ``list_files``,
``aretrieve_file`` / ``retrieve_file``, ``adelete_file`` / ``delete_file`` and
``afile_content`` / ``file_content``, plus LiteLLM's aliases (``afile_list``,
``file_list``, ``afile_retrieve``, ``file_retrieve``, ``afile_delete``,
``file_delete``), the Batch functions ``acreate_batch`` / ``create_batch``,
``aretrieve_batch`` / ``retrieve_batch``, ``alist_batches`` / ``list_batches`` and
``acancel_batch`` / ``cancel_batch``, and LiteLLM's fine-tuning functions:
``acreate_fine_tuning_job`` / ``create_fine_tuning_job``, ``aretrieve_fine_tuning_job``,
``alist_fine_tuning_jobs``, ``acancel_fine_tuning_job`` (and their sync twins), plus
``alist_fine_tuning_events``, ``alist_fine_tuning_checkpoints``,
``apause_fine_tuning_job`` and ``aresume_fine_tuning_job``. The sync functions also
work inside a running event loop
(a Jupyter notebook): the call then runs on a private loop thread.

``custom_llm_provider`` chooses where a call goes, and each provider takes its
credentials from the parameters or else its environment variables:

* ``"openai"`` (the default): OpenAI, or any OpenAI-compatible server.
  ``api_key`` / ``OPENAI_API_KEY`` (required), ``api_base`` /
  ``OPENAI_BASE_URL`` or ``OPENAI_API_BASE``, ``organization`` / ``OPENAI_ORG_ID``.
* ``"azure"``: Azure OpenAI. ``api_base`` / ``AZURE_API_BASE`` (required);
  ``api_key`` / ``AZURE_API_KEY`` or ``azure_ad_token=`` / ``AZURE_AD_TOKEN``
  (one required); ``api_version`` / ``AZURE_API_VERSION`` (a dated version, or
  ``v1`` / ``preview`` for the ``/openai/v1`` surface).
* ``"vertex_ai"``: Vertex AI, files in a Google Cloud Storage bucket (ids are
  ``gs://bucket/object``; a ``batch`` file is also stored in Vertex's batch format
  and its content comes back as sent). ``gcs_bucket_name`` / ``GCS_BUCKET_NAME``
  (required, ``"bucket/prefix"`` allowed), ``vertex_credentials`` /
  ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account JSON path, its JSON text
  or a dict; else Application Default Credentials), ``vertex_project`` /
  ``VERTEXAI_PROJECT``, ``vertex_location`` / ``VERTEXAI_LOCATION``;
  ``STORAGE_EMULATOR_HOST`` points it at a GCS emulator.
* ``"filegate"``: a filegate gateway. ``api_base`` / ``FILEGATE_API_BASE``
  (default ``http://localhost:4000/v1``), ``api_key`` / ``FILEGATE_API_KEY``.

Beyond LiteLLM's functions, for a filegate gateway (or any OpenAI-compatible
server; ``api_base`` / ``FILEGATE_API_BASE``, ``api_key`` / ``FILEGATE_API_KEY``):
the Uploads API (``acreate_upload``, ``aadd_upload_part``, ``acomplete_upload``,
``acancel_upload``), a download from a byte offset (``aopen_file_content``), and
the admin API with the master key (``agenerate_key``, ``alist_keys``,
``akey_info``, ``adelete_keys``, ``anew_team``, ``alist_teams``, ``ateam_info``,
``adelete_teams``); each has a sync twin but ``aopen_file_content``.

Errors: missing credentials raise ``ConfigError`` (naming the parameter and
the variable); an unsupported provider or an option the provider cannot
honour raises ``InvalidRequest`` before anything is sent; an unknown keyword
argument raises ``TypeError`` (``litellm_*`` ones are accepted and ignored).
Upstream failures raise the class of their status: ``InvalidRequest`` 400,
``AuthError`` 401, ``PermissionDenied`` 403, ``FileNotFound`` 404,
``Conflict`` 409, ``RateLimited`` 429, ``UpstreamError`` 502 (other failures),
``UpstreamTimeout`` 504; all but ``ConfigError`` derive from ``FilegateError``.
"""

from filegate.errors import (
    AuthError,
    ConfigError,
    Conflict,
    FilegateError,
    FileNotFound,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from filegate.sdk.admin import (
    GeneratedKey,
    KeyInfo,
    KeyPage,
    TeamDetail,
    TeamInfo,
    adelete_keys,
    adelete_teams,
    agenerate_key,
    akey_info,
    alist_keys,
    alist_teams,
    anew_team,
    ateam_info,
    delete_keys,
    delete_teams,
    generate_key,
    key_info,
    list_keys,
    list_teams,
    new_team,
    team_info,
)
from filegate.sdk.batch_types import Batch, BatchPage
from filegate.sdk.batches import (
    acancel_batch,
    acreate_batch,
    alist_batches,
    aretrieve_batch,
    cancel_batch,
    create_batch,
    list_batches,
    retrieve_batch,
)
from filegate.sdk.content import FileContent
from filegate.sdk.downloads import aopen_file_content
from filegate.sdk.files import (
    acreate_file,
    adelete_file,
    afile_content,
    afile_delete,
    afile_list,
    afile_retrieve,
    alist_files,
    aretrieve_file,
    create_file,
    delete_file,
    file_content,
    file_delete,
    file_list,
    file_retrieve,
    list_files,
    retrieve_file,
)
from filegate.sdk.fine_tuning import (
    acancel_fine_tuning_job,
    acreate_fine_tuning_job,
    alist_fine_tuning_checkpoints,
    alist_fine_tuning_events,
    alist_fine_tuning_jobs,
    apause_fine_tuning_job,
    aresume_fine_tuning_job,
    aretrieve_fine_tuning_job,
    cancel_fine_tuning_job,
    create_fine_tuning_job,
    list_fine_tuning_checkpoints,
    list_fine_tuning_events,
    list_fine_tuning_jobs,
    pause_fine_tuning_job,
    resume_fine_tuning_job,
    retrieve_fine_tuning_job,
)
from filegate.sdk.fine_tuning_types import FineTuningJob, FineTuningJobPage
from filegate.sdk.types import FileDeleted, FileObject, FilePage
from filegate.sdk.uploads import (
    UploadObject,
    UploadPartObject,
    aadd_upload_part,
    acancel_upload,
    acomplete_upload,
    acreate_upload,
    add_upload_part,
    cancel_upload,
    complete_upload,
    create_upload,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "Batch",
    "BatchPage",
    "ConfigError",
    "Conflict",
    "FileContent",
    "FileDeleted",
    "FileNotFound",
    "FileObject",
    "FilePage",
    "FilegateError",
    "FineTuningJob",
    "FineTuningJobPage",
    "GeneratedKey",
    "InvalidRequest",
    "KeyInfo",
    "KeyPage",
    "PermissionDenied",
    "RateLimited",
    "TeamDetail",
    "TeamInfo",
    "UploadObject",
    "UploadPartObject",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
    "aadd_upload_part",
    "acancel_batch",
    "acancel_fine_tuning_job",
    "acancel_upload",
    "acomplete_upload",
    "acreate_batch",
    "acreate_file",
    "acreate_fine_tuning_job",
    "acreate_upload",
    "add_upload_part",
    "adelete_file",
    "adelete_keys",
    "adelete_teams",
    "afile_content",
    "afile_delete",
    "afile_list",
    "afile_retrieve",
    "agenerate_key",
    "akey_info",
    "alist_batches",
    "alist_files",
    "alist_fine_tuning_checkpoints",
    "alist_fine_tuning_events",
    "alist_fine_tuning_jobs",
    "alist_keys",
    "alist_teams",
    "anew_team",
    "aopen_file_content",
    "apause_fine_tuning_job",
    "aresume_fine_tuning_job",
    "aretrieve_batch",
    "aretrieve_file",
    "aretrieve_fine_tuning_job",
    "ateam_info",
    "cancel_batch",
    "cancel_fine_tuning_job",
    "cancel_upload",
    "complete_upload",
    "create_batch",
    "create_file",
    "create_fine_tuning_job",
    "create_upload",
    "delete_file",
    "delete_keys",
    "delete_teams",
    "file_content",
    "file_delete",
    "file_list",
    "file_retrieve",
    "generate_key",
    "key_info",
    "list_batches",
    "list_files",
    "list_fine_tuning_checkpoints",
    "list_fine_tuning_events",
    "list_fine_tuning_jobs",
    "list_keys",
    "list_teams",
    "new_team",
    "pause_fine_tuning_job",
    "resume_fine_tuning_job",
    "retrieve_batch",
    "retrieve_file",
    "retrieve_fine_tuning_job",
    "team_info",
]
