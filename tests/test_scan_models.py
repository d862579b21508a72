"""One test per loader, per resolution path, and the negative cases, on source snippets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mlfix.scan import ModelRef, RefKind, scan_source


def scan(code: str, **kwargs: object) -> list[ModelRef]:
    result = scan_source(textwrap.dedent(code), "app.py", **kwargs)  # type: ignore[arg-type]
    assert not result.problems, result.problems
    return list(result.refs)


def one(code: str, **kwargs: object) -> ModelRef:
    refs = scan(code, **kwargs)
    assert len(refs) == 1, refs
    return refs[0]


# -- loaders ----------------------------------------------------------------------------


def test_from_pretrained_records_class_position_and_arguments() -> None:
    ref = one(
        """
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(
            "org/name", revision="abc123", subfolder="tok", cache_dir="/cache"
        )
        """
    )
    assert ref.kind is RefKind.HUB and ref.repo_id == "org/name"
    assert (ref.library, ref.loader, ref.loader_class, ref.role) == (
        "transformers",
        "AutoTokenizer.from_pretrained",
        "AutoTokenizer",
        "tokenizer",
    )
    assert (ref.path, ref.line, ref.column) == (Path("app.py"), 4, 7)
    assert (ref.revision, ref.subfolder, ref.cache_dir) == ("abc123", "tok", "/cache")
    assert ref.raw == '"org/name"'


def test_any_from_pretrained_class_is_recorded() -> None:
    ref = one(
        "from transformers import WhisperForConditionalGeneration as W\n"
        "m = W.from_pretrained('openai/whisper-tiny')\n"
    )
    assert (
        ref.loader_class == "W"
        and ref.library == "transformers"
        and ref.repo_id == "openai/whisper-tiny"
    )


def test_unknown_class_from_pretrained_is_still_a_hub_load() -> None:
    ref = one("model = load_cls().from_pretrained('org/x', gguf_file='m.gguf')\n")
    assert ref.repo_id == "org/x" and ref.filename == "m.gguf"


def test_pipeline_positional_model() -> None:
    ref = one(
        "from transformers import pipeline\n"
        "p = pipeline('text-generation', 'org/gen', revision='r2')\n"
    )
    assert (ref.repo_id, ref.task, ref.revision, ref.offline_safe) == (
        "org/gen",
        "text-generation",
        "r2",
        True,
    )


def test_pipeline_default_follows_the_pinned_transformers_major() -> None:
    code = "from transformers import pipeline\np = pipeline('text-generation')\n"
    v5 = one(code)
    v4 = one(code, versions={"transformers": "4.46.3"})
    assert (v5.repo_id, v5.revision) == ("HuggingFaceTB/SmolLM3-3B", "a07cc9a")
    assert (v4.repo_id, v4.revision) == ("openai-community/gpt2", "607a30d")
    assert v4.role == "pipeline-default" and v4.task == "text-generation"


def test_pipeline_default_translation_pair_in_4x() -> None:
    ref = one(
        "from transformers import pipeline\np = pipeline('translation_en_to_fr')\n",
        versions={"Transformers": "4.57"},
    )
    assert (ref.repo_id, ref.revision) == ("google-t5/t5-base", "a9723ea")


def test_task_removed_in_5x_is_unresolved() -> None:
    ref = one("from transformers import pipeline\np = pipeline('summarization')\n")
    assert ref.kind is RefKind.UNRESOLVED and "5.x has no default" in (ref.unresolved_reason or "")


def test_pipeline_user_revision_overrides_the_pinned_default() -> None:
    ref = one("from transformers import pipeline\np = pipeline('ner', revision='mine')\n")
    assert ref.revision == "mine"


def test_pipeline_with_a_model_object_adds_no_ref_for_it() -> None:
    refs = scan(
        """
        from transformers import AutoModel, pipeline
        model = AutoModel.from_pretrained("org/m")
        p = pipeline("feature-extraction", model=model, tokenizer="org/tok")
        """
    )
    assert [(r.repo_id, r.role, r.loader) for r in refs] == [
        ("org/m", "model", "AutoModel.from_pretrained"),
        ("org/tok", "tokenizer", "pipeline"),
    ]


def test_pipeline_imported_under_another_name() -> None:
    ref = one(
        """
        from transformers import pipeline as hf_pipeline

        x = 1
        clf = hf_pipeline("sentiment-analysis")
        """
    )
    assert ref.line == 5 and ref.role == "pipeline-default"


def test_pipeline_through_module_alias_and_star_import() -> None:
    assert one("import transformers as tf\np = tf.pipeline('ner')\n").task == "ner"
    assert one("from transformers import *\np = pipeline('ner')\n").task == "ner"


@pytest.mark.parametrize(
    ("call", "repo"),
    [
        ("SentenceTransformer('all-mpnet-base-v2')", "sentence-transformers/all-mpnet-base-v2"),
        ("SentenceTransformer('roberta-base')", "roberta-base"),
        ("SentenceTransformer('GPT2')", "GPT2"),
        ("CrossEncoder('ms-marco-MiniLM-L6-v2')", "cross-encoder/ms-marco-MiniLM-L6-v2"),
        ("SparseEncoder('splade-v3')", "sparse-encoder/splade-v3"),
        ("SentenceTransformer('BAAI/bge-m3')", "BAAI/bge-m3"),
    ],
)
def test_sentence_transformers_short_names(call: str, repo: str) -> None:
    ref = one(
        f"from sentence_transformers import SentenceTransformer, CrossEncoder, SparseEncoder\n"
        f"m = {call}\n"
    )
    assert ref.repo_id == repo and ref.library == "sentence-transformers"


def test_sentence_transformers_short_name_that_is_a_project_dir_is_local(tmp_path: Path) -> None:
    (tmp_path / "my-model").mkdir()
    code = (
        "from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer('my-model')\n"
    )
    result = scan_source(code, tmp_path / "app.py", root=tmp_path)
    [ref] = result.refs
    assert ref.kind is RefKind.LOCAL and ref.local_path == "my-model"


def test_hf_hub_download_and_snapshot_download() -> None:
    refs = scan(
        """
        from huggingface_hub import hf_hub_download, snapshot_download
        a = hf_hub_download("org/a", "weights/model.safetensors", repo_type="model")
        b = snapshot_download(repo_id="org/b", allow_patterns="*.json", revision="v1")
        """
    )
    assert [(r.repo_id, r.role, r.filename, r.allow_patterns, r.revision) for r in refs] == [
        ("org/a", "file", "weights/model.safetensors", None, None),
        ("org/b", "snapshot", None, ("*.json",), "v1"),
    ]


def test_hf_hub_prefix_in_an_fstring() -> None:
    ref = one(
        """
        import open_clip
        ARCH = "ViT-B-32"
        m = open_clip.create_model(f"hf-hub:laion/CLIP-{ARCH}")
        """
    )
    assert ref.repo_id == "laion/CLIP-ViT-B-32" and ref.library == "open_clip"


def test_hf_hub_prefix_through_a_constant_elsewhere() -> None:
    ref = one(
        "import timm\nNAME = 'hf-hub:org/vit'\nm = timm.create_model(NAME, pretrained=True)\n"
    )
    assert ref.repo_id == "org/vit" and ref.library == "timm"


def test_any_call_with_a_literal_hf_hub_name() -> None:
    ref = one("import mylib\nm = mylib.build('hf-hub:org/thing')\n")
    assert ref.repo_id == "org/thing" and ref.library == "unknown"


def test_peft_adapter_on_the_hub_notes_where_the_base_is_named() -> None:
    ref = one(
        "from peft import PeftModel\nm = PeftModel.from_pretrained(base, model_id='org/lora')\n"
    )
    assert ref.role == "adapter" and ref.repo_id == "org/lora" and ref.notes


def test_faster_whisper_sizes_and_files() -> None:
    ref = one(
        "from faster_whisper import WhisperModel\n"
        "m = WhisperModel('distil-large-v3', download_root='/w')\n"
    )
    assert ref.repo_id == "Systran/faster-distil-whisper-large-v3"
    assert ref.cache_dir == "/w" and ref.allow_patterns and "model.bin" in ref.allow_patterns


def test_llama_cpp_is_flagged_not_offline_safe() -> None:
    ref = one("from llama_cpp import Llama\nm = Llama.from_pretrained('org/gguf', '*q8_0.gguf')\n")
    assert ref.repo_id == "org/gguf" and ref.filename == "*q8_0.gguf" and not ref.offline_safe


def test_diffusers_lora_and_single_file() -> None:
    refs = scan(
        """
        from diffusers import DiffusionPipeline
        pipe = DiffusionPipeline.from_pretrained("org/sdxl", variant="fp16")
        pipe.load_lora_weights("org/lora", weight_name="x.safetensors")
        DiffusionPipeline.from_single_file("https://huggingface.co/org/ckpt/resolve/abc/m.ckpt")
        """
    )
    assert [(r.library, r.repo_id, r.variant, r.filename, r.revision) for r in refs] == [
        ("diffusers", "org/sdxl", "fp16", None, None),
        ("diffusers", "org/lora", None, "x.safetensors", None),
        ("diffusers", "org/ckpt", None, "m.ckpt", "abc"),
    ]


# -- resolution -------------------------------------------------------------------------


def test_module_constant_with_via_trace() -> None:
    ref = one(
        "from transformers import AutoModel\nNAME = 'org/x'\nm = AutoModel.from_pretrained(NAME)\n"
    )
    assert ref.repo_id == "org/x" and ref.via == ("NAME (app.py:2)",) and ref.raw == "NAME"


def test_dockerfile_env_beats_the_code_default() -> None:
    code = (
        "import os\n"
        "from transformers import AutoModel\n"
        "m = AutoModel.from_pretrained(os.getenv('M', 'org/default'))\n"
    )
    default = one(code)
    assert (default.repo_id, default.env_vars, default.from_dockerfile_env) == (
        "org/default",
        ("M",),
        False,
    )
    from_env = one(code, env={"M": "org/from-env"})
    assert (from_env.repo_id, from_env.env_vars, from_env.from_dockerfile_env) == (
        "org/from-env",
        ("M",),
        True,
    )


def test_environ_subscript_needs_the_dockerfile() -> None:
    code = (
        "import os\n"
        "from transformers import AutoModel\n"
        "m = AutoModel.from_pretrained(os.environ['SUMMARY_MODEL'])\n"
    )
    missing = one(code)
    assert missing.kind is RefKind.UNRESOLVED and "SUMMARY_MODEL" in (
        missing.unresolved_reason or ""
    )
    assert one(code, env={"SUMMARY_MODEL": "org/sum"}).repo_id == "org/sum"


def test_unset_env_then_fallback_assignment() -> None:
    ref = one(
        """
        import os
        from transformers import AutoModel
        name = os.environ.get("MODEL_NAME")
        if not name:
            name = "org/fallback"
        m = AutoModel.from_pretrained(name)
        """
    )
    assert ref.repo_id == "org/fallback" and ref.env_vars == ("MODEL_NAME",)


def test_conflicting_assignments_are_unresolved_with_lines() -> None:
    ref = one(
        """
        from transformers import AutoModel
        NAME = "org/a"
        if DEBUG:
            NAME = "org/b"
        m = AutoModel.from_pretrained(NAME)
        """
    )
    assert ref.kind is RefKind.UNRESOLVED
    assert "lines 3, 5" in (ref.unresolved_reason or "") and "'org/a'" in (
        ref.unresolved_reason or ""
    )


def test_function_return_value_and_arguments() -> None:
    refs = scan(
        """
        from transformers import AutoModel
        def model_id(size="base"):
            return f"org/model-{size}"
        a = AutoModel.from_pretrained(model_id())
        b = AutoModel.from_pretrained(model_id("large"))
        """
    )
    assert [r.repo_id for r in refs] == ["org/model-base", "org/model-large"]


def test_instance_attribute_set_from_constructor_argument() -> None:
    refs = scan(
        """
        from transformers import AutoModel
        class Service:
            def __init__(self, name="org/default"):
                self.name = name
            def load(self):
                return AutoModel.from_pretrained(self.name)
        svc = Service("org/given")
        m = AutoModel.from_pretrained(svc.name)
        """
    )
    # The only construction passes "org/given", so that is what load() reads too.
    assert [(r.repo_id, r.exact) for r in refs] == [("org/given", True), ("org/given", True)]


def test_pydantic_v1_settings_config_and_field_env() -> None:
    refs = scan(
        """
        from pydantic import BaseSettings, Field
        from transformers import AutoModel
        class Settings(BaseSettings):
            model: str = "org/default"
            other: str = Field("org/other", env="OTHER_MODEL")
            class Config:
                env_prefix = "svc_"
        s = Settings()
        a = AutoModel.from_pretrained(s.model)
        b = AutoModel.from_pretrained(s.other)
        """,
        env={"SVC_MODEL": "org/env-model", "OTHER_MODEL": "org/env-other"},
    )
    assert [(r.repo_id, r.env_vars) for r in refs] == [
        ("org/env-model", ("SVC_MODEL",)),
        ("org/env-other", ("OTHER_MODEL",)),
    ]


def test_settings_field_without_default_reads_env_only() -> None:
    code = """
        from pydantic_settings import BaseSettings
        from transformers import AutoModel
        class Settings(BaseSettings):
            model_id: str
        m = AutoModel.from_pretrained(Settings().model_id)
        """
    assert one(code).kind is RefKind.UNRESOLVED
    assert one(code, env={"MODEL_ID": "org/m"}).repo_id == "org/m"


def test_dataclass_default_factory_with_env() -> None:
    ref = one(
        """
        import os
        from dataclasses import dataclass, field
        from transformers import AutoModel
        @dataclass
        class Cfg:
            name: str = field(default_factory=lambda: os.getenv("NAME", "org/factory"))
        m = AutoModel.from_pretrained(Cfg().name)
        """
    )
    assert ref.repo_id == "org/factory" and ref.env_vars == ("NAME",)


def test_string_methods_and_dict_lookup() -> None:
    refs = scan(
        """
        import os
        from transformers import AutoModel
        MODELS = {"en": "org/english", "de": "org/german"}
        LANG = os.getenv("LANG_CODE", " EN ").strip().lower()
        a = AutoModel.from_pretrained(MODELS[LANG])
        b = AutoModel.from_pretrained(MODELS.get("de"))
        """
    )
    assert [r.repo_id for r in refs] == ["org/english", "org/german"]


def test_argparse_default_is_resolved_but_not_exact() -> None:
    ref = one(
        """
        import argparse
        from transformers import AutoModel
        parser = argparse.ArgumentParser()
        parser.add_argument("--model-name", default="org/cli-default")
        args = parser.parse_args()
        m = AutoModel.from_pretrained(args.model_name)
        """
    )
    assert ref.repo_id == "org/cli-default" and not ref.exact


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("sys.argv[1]", "sys.argv"),
        ("input()", "input()"),
        ("request.args['m']", "flask.request.args"),
        ("name", "parameter"),
        ("os.environ['NOPE']", "NOPE"),
        ("make_name()", "make_name"),
        ("A", "terms of itself"),
        ("undefined_name", "not defined"),
        ("random.choice(NAMES)", "random.choice"),
    ],
)
def test_unresolvable_names_say_why(expression: str, reason: str) -> None:
    code = f"""
        import os, random, sys
        from flask import request
        from transformers import AutoModel
        from helpers import make_name
        A = B
        B = A
        def load(name):
            return AutoModel.from_pretrained({expression})
        """
    ref = one(code)
    assert ref.kind is RefKind.UNRESOLVED and ref.repo_id is None
    assert reason in (ref.unresolved_reason or ""), ref.unresolved_reason
    assert ref.line == 9


def test_deeply_nested_expression_does_not_crash() -> None:
    chain = " + ".join(["'a'"] * 500)
    ref = one(f"from transformers import AutoModel\nm = AutoModel.from_pretrained({chain})\n")
    assert ref.kind is RefKind.UNRESOLVED and "too indirectly" in (ref.unresolved_reason or "")
    too_deep = " + ".join(["'a'"] * 5000)
    result = scan_source(
        f"from transformers import AutoModel\nm = AutoModel.from_pretrained({too_deep})\n"
    )
    assert result.refs == () and "nested too deeply" in result.problems[0].message


def test_unreadable_revision_is_noted() -> None:
    ref = one(
        "import os\n"
        "from transformers import AutoModel\n"
        "m = AutoModel.from_pretrained('org/x', revision=os.environ['REV'])\n"
    )
    assert ref.revision is None and any("revision=" in note for note in ref.notes)


# -- local paths and negatives ----------------------------------------------------------


@pytest.mark.parametrize("name", ["./m", "../m", "/models/m", "~/m", "a/b/c", "C:\\m", "."])
def test_paths_are_local(name: str) -> None:
    ref = one(f"from transformers import AutoModel\nm = AutoModel.from_pretrained({name!r})\n")
    assert ref.kind is RefKind.LOCAL and ref.local_path == name


def test_method_named_pipeline_on_another_object_is_ignored() -> None:
    assert scan("job = Job()\njob.pipeline(['a'])\nresult = pipeline('ner')\n") == []


def test_mentions_in_comments_and_strings_give_no_ref() -> None:
    result = scan_source(
        '"""Use AutoModel.from_pretrained("org/doc")."""\n'
        '# pipeline("ner")\n'
        "x = \"SentenceTransformer('a')\"\n",
        "app.py",
    )
    assert result.files_parsed == 1 and result.refs == ()


def test_file_without_needles_is_not_parsed() -> None:
    result = scan_source("import os\nprint(os.getcwd())\n", "app.py")
    assert (result.files_scanned, result.files_parsed, result.refs) == (1, 0, ())


def test_library_internals_calling_cls_from_pretrained_are_ignored() -> None:
    code = """
        class Model:
            @classmethod
            def load(cls, name):
                return cls.from_pretrained(name)
            def again(self, name):
                return super().from_pretrained(name)
        """
    assert scan(code) == []


def test_a_project_class_named_like_a_loader_is_ignored() -> None:
    assert scan("class CrossEncoder:\n    pass\nm = CrossEncoder('x')\n") == []
    assert scan("from .models import SentenceTransformer\nm = SentenceTransformer('x')\n") == []


def test_syntax_error_is_a_problem_not_a_crash() -> None:
    result = scan_source(
        "from transformers import AutoModel\nAutoModel.from_pretrained('x'\n", "bad.py"
    )
    assert result.refs == ()
    [problem] = result.problems
    assert problem.path == Path("bad.py") and problem.line >= 1


def test_columns_count_characters_not_bytes() -> None:
    ref = one(
        "from transformers import AutoModel\n"
        "name = 'héllo'; m = AutoModel.from_pretrained('org/x')\n"
    )
    assert ref.column == len("name = 'héllo'; m = ") + 1


def test_line_offset_for_snippets() -> None:
    result = scan_source(
        "from transformers import AutoModel; AutoModel.from_pretrained('org/x')",
        "Dockerfile",
        line_offset=9,
    )
    assert result.refs[0].line == 10


def test_cross_encoder_short_names_follow_the_pinned_release() -> None:
    code = (
        "from sentence_transformers import CrossEncoder\n"
        "m = CrossEncoder('ms-marco-MiniLM-L6-v2')\n"
    )
    assert one(code).repo_id == "cross-encoder/ms-marco-MiniLM-L6-v2"
    assert one(code, versions={"sentence_transformers": "4.1.0"}).repo_id == "ms-marco-MiniLM-L6-v2"
    st = (
        "from sentence_transformers import SentenceTransformer\n"
        "m = SentenceTransformer('all-MiniLM-L6-v2')\n"
    )
    old = one(st, versions={"sentence-transformers": "2.7.0"})
    assert old.repo_id == "sentence-transformers/all-MiniLM-L6-v2"


def test_fastapi_depends_is_what_the_dependency_returns() -> None:
    ref = one(
        """
        from fastapi import Depends
        from transformers import AutoModel

        def settings():
            return "acme/from-dependency"

        def route(name: str = Depends(settings)):
            return AutoModel.from_pretrained(name)
        """
    )
    assert ref.kind is RefKind.HUB and ref.repo_id == "acme/from-dependency"


def test_objects_from_different_calls_still_disagree() -> None:
    """One object reached along two paths is one value; two constructions are not, even of
    one class (their fields may differ)."""
    ref = one(
        """
        import random
        from transformers import AutoModel

        class Cfg:
            def __init__(self, name):
                self.name = name

        cfg = Cfg("acme/one")
        if random.random() > 0.5:
            cfg = Cfg("acme/two")
        AutoModel.from_pretrained(cfg.name)
        """
    )
    assert ref.kind is RefKind.UNRESOLVED
