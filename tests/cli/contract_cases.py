"""The table of the bad-input contract (issue 10): zoo case x command -> what must happen.

Each :class:`Case` runs one command line in-process (``torchmusic.cli.main.main``)
on an entry of the zoo (:mod:`contract_zoo`) and states the contract:

- ``exit``: the exit status (non-zero, or 0 for a batch job told
  ``--allow-failures`` / for input that must be accepted, such as 5.1 audio);
- ``message``: a regular expression that stderr must match (one line naming the
  file or value and what was expected);
- ``produced``: paths that must exist afterwards (good items of the same batch
  were still processed) and ``stdout``: a pattern stdout must match;
- ``unchanged``: paths (catalogs, run folders, output files) whose bytes must be
  identical before and after (a path absent before must still be absent).

"Traceback" never appears in stderr, whatever the case. ``test_contract.py`` runs
the table under pytest; ``contract_table.py`` prints it as markdown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import traceback
from pathlib import Path

from contract_zoo import build_zoo, snapshot


@dataclasses.dataclass(frozen=True)
class Case:
    case: str  # the zoo entry (a row of the table)
    command: str  # the command (a column of the table)
    argv: tuple[str, ...]  # with {placeholders}: zoo names, {tmp}, {catalog}
    exit: int
    message: str | None = None  # regex on stderr
    unchanged: tuple[str, ...] = ()
    produced: tuple[str, ...] = ()
    stdout: str | None = None  # regex on stdout
    cwd_files: tuple[tuple[str, str], ...] = ()  # (name in cwd, zoo entry copied there)

    @property
    def id(self) -> str:
        return f"{self.command}:{self.case}".replace(" ", "_")


def C(case, command, argv, exit, message=None, **kw) -> Case:
    return Case(case, command, tuple(argv.split()), exit, message, **kw)


Q = "--no-progress"
FEAT = f"--cache-dir {{tmp}}/cache --workers 1 {Q}"
BAD_AUDIO = r"zero\.wav: .*empty"
NEW = "{tmp}/new"  # an output path that must not exist after a refused command
#: A GAN run of two steps at a tiny size (the plumbing is under test).
GAN_TINY = (
    "--model_config.dim 4 --model_config.length 1024 --model_config.n_layers 3 "
    "--batch_size 2 --max_steps 2 --n_critic 1 --examples_every_n_steps 0"
)

CASES: list[Case] = [
    # -- features: a batch job --------------------------------------------------------
    C("audio zoo (bad + good + 5.1 + 8/96 kHz + unicode)", "features",
      f"features {{audio_dir}} --out {{tmp}}/f {FEAT}", 1, BAD_AUDIO,
      produced=("{tmp}/f/good.npy", "{tmp}/f/Café del mar – take 2.npy", "{tmp}/f/surround51.npy",
                "{tmp}/f/rate96k.npy", "{tmp}/f/rate8k.npy")),
    C("audio zoo, --allow-failures", "features",
      f"features {{audio_dir}} --out {{tmp}}/f {FEAT} --allow-failures", 0,
      r"(?s)random\.wav: .*not a recognised audio file.*truncated\.wav", produced=("{tmp}/f/good.npy",)),
    C("NaN / Inf samples", "features", f"features {{nan}} {{inf}} {{good}} --out {{tmp}}/f {FEAT}", 1,
      r"(?s)nan\.wav: .*NaN.*inf\.wav", produced=("{tmp}/f/good.npy",)),
    C("truncated / over-claiming WAV, PNG as .wav", "features",
      f"features {{truncated}} {{overclaim}} {{png}} {{good}} --out {{tmp}}/f {FEAT}", 1,
      r"(?s)truncated\.wav: .*overclaim\.wav: .*truncated.*picture\.wav: .*not a recognised",
      produced=("{tmp}/f/good.npy",)),
    C("symlink loop in the folder", "features", f"features {{loop_dir}} --out {{tmp}}/f {FEAT}", 1,
      r"a\.wav.*[Ss]ymbolic link that loops", produced=("{tmp}/f/ok.npy",)),
    C("directory named x.wav", "features", f"features {{dir}} {{good}} --out {{tmp}}/f {FEAT}", 0,
      None, produced=("{tmp}/f/good.npy",)),
    C("existing file as --out", "features", f"features {{good}} --out {{existing_file}} {FEAT}", 1,
      r"existing\.txt' is an existing file; expected a folder", unchanged=("{existing_file}",)),
    # -- predict: a batch job ---------------------------------------------------------
    C("audio zoo (bad + good + 5.1 + 8/96 kHz + unicode)", "predict",
      f"predict --model {{classifier}} {{audio_dir}} {Q}", 1, BAD_AUDIO,
      stdout=r"(?s)Café del mar – take 2\.wav.*good\.wav.*rate96k\.wav.*surround51\.wav"),
    C("audio zoo, --allow-failures", "predict",
      f"predict --model {{classifier}} {{audio_dir}} {Q} --allow-failures", 0, BAD_AUDIO,
      stdout=r"good\.wav"),
    C("symlink loop in the folder", "predict", f"predict --model {{classifier}} {{loop_dir}} {Q}", 1,
      r"b\.wav.*[Ss]ymbolic link", stdout=r"ok\.wav"),
    C("pickled model file (.pt)", "predict", f"predict --model {{pickle_pt}} {{good}} {Q}", 1,
      r"model\.pt is a pickled PyTorch file"),
    C("pickled model file (.safetensors)", "predict", f"predict --model {{pickle_st}} {{good}} {Q}", 1,
      r"pickled\.safetensors is a pickled"),
    C("truncated model file", "predict", f"predict --model {{truncated_model}} {{good}} {Q}", 1,
      r"truncated\.safetensors is not a safetensors file or is truncated"),
    C("model file of the wrong kind", "predict", f"predict --model {{generator}} {{good}} {Q}", 1,
      r"generator\.safetensors is a generator model file .* not a classifier"),
    C("model file of the wrong kind (recommender)", "predict",
      f"predict --model {{recommender}} {{good}} {Q}", 1, r"is a recommender file"),
    # -- evaluate ---------------------------------------------------------------------
    C("manifest in Latin-1", "evaluate", f"evaluate {{classifier}} --data {{manifest_latin1}} {Q}", 0,
      None, stdout=r"kick"),
    C("manifest in UTF-16", "evaluate", f"evaluate {{classifier}} --data {{manifest_utf16}} {Q}", 0,
      None, stdout=r"snare"),
    C("manifest of binary bytes", "evaluate",
      f"evaluate {{classifier}} --data {{manifest_undecodable}} {Q}", 1,
      r"binary\.csv' is not text: byte \d+ is 0x00.*expected a UTF-8, UTF-16"),
    C("manifest with a ragged row", "evaluate", f"evaluate {{classifier}} --data {{manifest_ragged}} {Q}",
      1, r"ragged\.csv: line 3 has more cells than the header"),
    C("manifest missing the label column", "evaluate",
      f"evaluate {{classifier}} --data {{manifest_missing_col}} {Q}", 1,
      r"nolabel\.csv' lacks column\(s\) \['label'\]"),
    C("manifest with unknown labels", "evaluate",
      f"evaluate {{classifier}} --data {{manifest_unknown_label}} {Q}", 1, r"\['kazoo'\].*does not know"),
    C("manifest naming a zero-byte file", "evaluate",
      f"evaluate {{classifier}} --data {{manifest_badfile}} {Q}", 1, r"1 file\(s\) skipped.*\n.*zero\.wav",
      stdout=r"kick"),
    C("existing file as --out", "evaluate",
      f"evaluate {{classifier}} --data {{manifest_good}} --out {{existing_file}} {Q}", 1,
      r"existing\.txt' is an existing file; expected a folder", unchanged=("{existing_file}",)),
    C("model file of the wrong kind", "evaluate", f"evaluate {{generator}} --data {{manifest_good}} {Q}",
      1, r"not a classifier model file"),
    C("pickled model file (.pt)", "evaluate", f"evaluate {{pickle_pt}} --data {{manifest_good}} {Q}", 1,
      r"model\.pt is a pickled"),
    # -- embed / catalog --------------------------------------------------------------
    C("audio zoo (bad + good + 5.1 + 8/96 kHz + unicode)", "embed",
      f"embed {{audio_dir}} --model mfcc --catalog {{tmp}}/cat --workers 1 {Q}", 1, BAD_AUDIO,
      produced=("{tmp}/cat/catalog.sqlite",), stdout=r"[5-9] track\(s\) added"),
    C("symlink loop in the folder", "embed",
      f"embed {{loop_dir}} --model mfcc --catalog {{tmp}}/cat --workers 1 {Q}", 1,
      r"a\.wav.*[Ss]ymbolic link", stdout=r"1 track\(s\) added"),
    C("existing file as --out", "embed",
      f"embed {{good}} --model mfcc --catalog {{existing_file}} {Q}", 1,
      r"existing\.txt' exists and is not a folder", unchanged=("{existing_file}",)),
    C("pickled model file (.pt)", "embed", f"embed {{good}} --model {{pickle_pt}} --catalog {NEW} {Q}", 1,
      r"model\.pt is a pickled", unchanged=(NEW,)),
    C("model file of the wrong kind", "embed",
      f"embed {{good}} --model {{generator}} --catalog {NEW} {Q}", 1, r"generator model file",
      unchanged=(NEW,)),
    C("bad argument (--workers -1)", "embed",
      f"embed {{good}} --model mfcc --catalog {NEW} --workers -1 {Q}", 1, r"workers=-1",
      unchanged=(NEW,)),
    C("missing input path", "embed", f"embed {{tmp}}/nothing --model mfcc --catalog {NEW} {Q}", 1,
      r"nothing: no such file or folder", unchanged=(NEW,)),
    C("audio zoo (bad + good + 5.1 + 8/96 kHz + unicode)", "catalog add",
      f"catalog add {{audio_dir}} -c {{tmp}}/cat --model mfcc --workers 1 {Q}", 1, BAD_AUDIO,
      stdout=r"track\(s\) added"),
    C("existing file as --out", "catalog add", f"catalog add {{good}} -c {{existing_file}} {Q}", 1,
      r"exists and is not a folder", unchanged=("{existing_file}",)),
    C("mistyped catalog path", "catalog add", f"catalog add {{good}} -c {{typo_catalog}} {Q}", 1,
      r"catalgo", unchanged=("{typo_catalog}",)),
    C("pickled model file (.pt)", "catalog add",
      f"catalog add {{good}} -c {{catalog}} --model {{pickle_pt}} {Q}", 1, r"model\.pt is a pickled",
      unchanged=("{catalog}",)),
    C("model file of the wrong kind", "catalog add",
      f"catalog add {{good}} -c {{catalog}} --model {{classifier}} {Q}", 1,
      r"embeddings of dim 4 \(classifier:simple_cnn.*cannot join catalog", unchanged=("{catalog}",)),
    C("mistyped catalog path", "catalog info", "catalog info -c {typo_catalog}", 1,
      r"no catalog at '.*catalgo'", unchanged=("{typo_catalog}",)),
    C("existing file as --out", "catalog info", "catalog info -c {existing_file}", 1,
      r"exists and is not a folder", unchanged=("{existing_file}",)),
    C("mistyped catalog path", "catalog remove", "catalog remove 1 -c {typo_catalog}", 1,
      r"no catalog at '.*catalgo'", unchanged=("{typo_catalog}",)),
    C("unknown track id", "catalog remove", "catalog remove 999 -c {catalog}", 1,
      r"no such track\(s\): 999", unchanged=("{catalog}",)),
    C("mistyped catalog path", "catalog reindex", "catalog reindex -c {typo_catalog}", 1,
      r"no catalog at '.*catalgo'", unchanged=("{typo_catalog}",)),
    C("mistyped catalog path", "similar", "similar 1 -c {typo_catalog}", 1, r"no catalog at '.*catalgo'",
      unchanged=("{typo_catalog}",)),
    C("PNG renamed .wav as the query", "similar", "similar {png} -c {catalog}", 1,
      r"picture\.wav': not a recognised audio file", unchanged=("{catalog}",)),
    C("zero-byte query", "similar", "similar {zero} -c {catalog}", 1, r"zero\.wav': file is empty",
      unchanged=("{catalog}",)),
    C("6-channel (5.1) query", "similar", "similar {six} -c {catalog}", 0, None,
      stdout=r"nearest tracks to .*surround51\.wav"),
    C("'1': a track id and a file", "similar", "similar 1 -c {catalog}", 0,
      r"'1' is track id 1; a file named '1' exists too: write \./1", cwd_files=(("1", "good"),),
      stdout=r"nearest tracks to 1"),
    C("'99': a file, no such track id", "similar", "similar 99 -c {catalog}", 0,
      r"no track id 99 in catalog .*: querying the file '99'", cwd_files=(("99", "good"),)),
    C("'99': neither track id nor file", "similar", "similar 99 -c {catalog}", 1,
      r"query '99': no track with id 99 .* and no file of that name", unchanged=("{catalog}",)),
    # -- recommend / train recommend --------------------------------------------------
    C("pickled model file (.pt)", "recommend", "recommend --model {pickle_pt} --user 1", 1,
      r"model\.pt is a pickled"),
    C("truncated model file", "recommend", "recommend --model {truncated_model} --user 1", 1,
      r"truncated\.safetensors is not a safetensors file"),
    C("model file of the wrong kind", "recommend", "recommend --model {classifier} --user 1", 1,
      r"classifier\.safetensors is an audio classifier model file .* not a recommender"),
    C("20-digit play count", "train recommend",
      f"train recommend --data {{lastfm_bigplay}} --arch popularity --out {NEW}", 1,
      r"user_artists\.dat is malformed: line 7: the number 99999999999999999999 is too large", unchanged=(NEW,)),
    C("2-column listening row", "train recommend",
      f"train recommend --data {{lastfm_twocol}} --arch popularity --out {NEW}", 1,
      r"user_artists\.dat is malformed: line 7 has 2 tab-separated column\(s\); expected 3",
      unchanged=(NEW,)),
    C("--itemknn.neighbors -5", "train recommend",
      f"train recommend --data {{lastfm_good}} --arch itemknn --itemknn.neighbors -5 --out {NEW}", 1,
      r"--itemknn\.neighbors=-5 must be a positive int", unchanged=(NEW,)),
    C("--itemknn.neighbors for the hybrid", "train recommend",
      f"train recommend --data {{lastfm_good}} --itemknn.neighbors 5 --out {NEW}", 1,
      r"--itemknn\.neighbors: a setting of the 'itemknn' recommender, but --arch is 'hybrid'",
      unchanged=(NEW,)),
    C("misspelt setting", "train recommend",
      f"train recommend --data {{lastfm_good}} --arch itemknn --neighbours 5 --out {NEW}", 1,
      r"'neighbours' is not a setting of the 'itemknn' recommender; expected one of \['neighbors'",
      unchanged=(NEW,)),
    # -- training (argument and data validation only) --------------------------------
    C("--resume on a mistyped run folder", "train classify",
      f"train classify --data {{manifest_good}} --out {NEW} --resume", 1, r"no run to resume in",
      unchanged=(NEW,)),
    C("existing file as --out", "train classify",
      "train classify --data {manifest_good} --out {existing_file}", 1,
      r"existing\.txt' is an existing file; expected a folder", unchanged=("{existing_file}",)),
    C("model file of the wrong kind as --backbone", "train classify",
      f"train classify --data {{manifest_good}} --backbone {{classifier}} --out {NEW}", 1,
      r"backbone .*classifier\.safetensors' must be an embedding model file .* is an audio "
      r"classifier model file", unchanged=(NEW,)),
    C("pickled model file (.pt) as --backbone", "train classify",
      f"train classify --data {{manifest_good}} --backbone {{pickle_pt}} --out {NEW}", 1,
      r"must be an embedding model file .*model\.pt is a pickled", unchanged=(NEW,)),
    C("--arch crnn with --backbone", "train classify",
      f"train classify --data {{manifest_good}} --arch crnn --backbone {{generator}} --out {NEW}",
      1, r"is for model 'backbone', but model='crnn'", unchanged=(NEW,)),
    C("--resume on a mistyped run folder", "train embed",
      f"train embed --data {{audio_dir}} --out {NEW} --resume", 1, r"no run to resume in",
      unchanged=(NEW,)),
    C("existing file as --out", "train embed", "train embed --data {audio_dir} --out {existing_file}",
      1, r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    # -- vocoders ------------------------------------------------------------------------
    C("audio zoo (bad + good + 5.1 + 8/96 kHz + unicode)", "vocode",
      f"vocode -m {{vocoder}} {{audio_dir}} --out {{tmp}}/v {Q}", 1, BAD_AUDIO,
      produced=("{tmp}/v/good.wav", "{tmp}/v/Café del mar – take 2.wav", "{tmp}/v/surround51.wav",
                "{tmp}/v/rate96k.wav", "{tmp}/v/rate8k.wav"),
      stdout=r"rate96k\.wav -> .*\(resampled from 96000 Hz\)"),
    C("NaN / Inf samples", "vocode", f"vocode -m {{vocoder}} {{nan}} {{inf}} {{good}} --out {{tmp}}/v {Q}",
      1, r"(?s)nan\.wav: .*NaN.*inf\.wav", produced=("{tmp}/v/good.wav",)),
    C("symlink loop in the folder", "vocode", f"vocode -m {{vocoder}} {{loop_dir}} --out {{tmp}}/v {Q}",
      1, r"a\.wav.*[Ss]ymbolic link that loops", produced=("{tmp}/v/ok.wav",)),
    C("existing file as --out", "vocode", f"vocode -m {{vocoder}} {{good}} --out {{existing_file}} {Q}",
      1, r"existing\.txt' is an existing file; expected a folder", unchanged=("{existing_file}",)),
    C("pickled model file (.pt)", "vocode", f"vocode -m {{pickle_pt}} {{good}} --out {NEW} {Q}", 1,
      r"model\.pt is a pickled", unchanged=(NEW,)),
    C("truncated model file", "vocode", f"vocode -m {{truncated_model}} {{good}} --out {NEW} {Q}", 1,
      r"truncated\.safetensors is not a safetensors file or is truncated", unchanged=(NEW,)),
    C("model file of the wrong kind", "vocode", f"vocode -m {{classifier}} {{good}} --out {NEW} {Q}", 1,
      r"is an audio classifier model file", unchanged=(NEW,)),
    C("model file of the wrong kind (generator)", "vocode",
      f"vocode -m {{generator}} {{good}} --out {NEW} {Q}", 1, r"generator model file", unchanged=(NEW,)),
    C("audio zoo (bad + good + 5.1 + 8/96 kHz + unicode)", "denoise",
      f"denoise -m {{denoiser}} {{audio_dir}} --out {{tmp}}/d {Q}", 1, BAD_AUDIO,
      produced=("{tmp}/d/good.wav", "{tmp}/d/Café del mar – take 2.wav", "{tmp}/d/surround51.wav",
                "{tmp}/d/rate96k.wav", "{tmp}/d/rate8k.wav")),
    C("NaN / Inf samples", "denoise", f"denoise --method gate {{nan}} {{inf}} {{good}} --out {{tmp}}/d {Q}",
      1, r"(?s)nan\.wav: .*NaN.*inf\.wav", produced=("{tmp}/d/good.wav",)),
    C("symlink loop in the folder", "denoise", f"denoise -m {{denoiser}} {{loop_dir}} --out {{tmp}}/d {Q}",
      1, r"a\.wav.*[Ss]ymbolic link that loops", produced=("{tmp}/d/ok.wav",)),
    C("existing file as --out", "denoise", f"denoise -m {{denoiser}} {{good}} --out {{existing_file}} {Q}",
      1, r"existing\.txt' is an existing file; expected a folder", unchanged=("{existing_file}",)),
    C("pickled model file (.pt)", "denoise", f"denoise -m {{pickle_pt}} {{good}} --out {NEW} {Q}", 1,
      r"model\.pt is a pickled", unchanged=(NEW,)),
    C("model file of the wrong kind", "denoise", f"denoise -m {{vocoder}} {{good}} --out {NEW} {Q}", 1,
      r"is a vocoder model file", unchanged=(NEW,)),
    C("model file of the wrong kind (denoiser)", "vocode",
      f"vocode -m {{denoiser}} {{good}} --out {NEW} {Q}", 1, r"denoiser model file", unchanged=(NEW,)),
    C("existing file as --out", "train vocoder",
      "train vocoder --data {audio_dir} --out {existing_file}", 1,
      r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    C("manifest missing the path column", "train vocoder",
      f"train vocoder --data {{manifest_missing_path}} --out {NEW}", 1, r"has no 'path' column",
      unchanged=(NEW,)),
    C("only undecodable audio", "train vocoder",
      f"train vocoder --data {{zero}} --out {NEW} --cache_dir {{tmp}}/c", 1,
      r"no decodable audio.*zero\.wav", unchanged=(NEW,)),
    # -- GANs ----------------------------------------------------------------------------
    C("pickled model file (.pt)", "synthesize", f"synthesize -m {{pickle_pt}} --out {NEW}", 1,
      r"model\.pt is a pickled", unchanged=(NEW,)),
    C("truncated model file", "synthesize", f"synthesize -m {{truncated_model}} --out {NEW}", 1,
      r"truncated\.safetensors is not a safetensors file or is truncated", unchanged=(NEW,)),
    C("model file of the wrong kind", "synthesize", f"synthesize -m {{classifier}} --out {NEW}", 1,
      r"is an audio classifier model file .*not a GAN model file", unchanged=(NEW,)),
    C("model file of the wrong kind (vocoder)", "synthesize",
      f"synthesize -m {{vocoder}} --out {NEW}", 1, r"is a vocoder model file", unchanged=(NEW,)),
    C("unknown label", "synthesize", f"synthesize -m {{gan}} --label tom --out {NEW}", 1,
      r"unknown label 'tom'; this model's labels are: kick, snare", unchanged=(NEW,)),
    C("--label on an unconditional model", "synthesize",
      f"synthesize -m {{gan_uncond}} --label kick --out {NEW}", 1,
      r"unconditional GAN .*takes no --label", unchanged=(NEW,)),
    C("existing file as --out", "synthesize", "synthesize -m {gan} --out {existing_file}", 1,
      r"existing\.txt' is an existing file; expected a folder", unchanged=("{existing_file}",)),
    C("model file of the wrong kind (GAN)", "vocode", f"vocode -m {{gan}} {{good}} --out {NEW} {Q}",
      1, r"is a GAN model file", unchanged=(NEW,)),
    C("model file of the wrong kind", "export onnx", f"export onnx -m {{classifier}} -o {NEW}", 1,
      r"is an audio classifier model file", unchanged=(NEW,)),
    C("pickled model file (.pt)", "export onnx", f"export onnx -m {{pickle_pt}} -o {NEW}", 1,
      r"model\.pt is a pickled", unchanged=(NEW,)),
    C("existing folder as --out", "export onnx", "export onnx -m {vocoder} -o {audio_dir}", 1,
      r"audio is a folder; expected the \.onnx file", unchanged=("{audio_dir}",)),
    C("one class, --conditional", "train gan",
      f"train gan --data {{drums_one_class}} --conditional --out {NEW}", 1,
      r"1 class\(es\) \['kick'\]; a conditional GAN needs at least 2 classes", unchanged=(NEW,)),
    C("only undecodable audio", "train gan",
      f"train gan --data {{drums_undecodable}} --conditional --out {NEW}", 1,
      r"no decodable audio .*zero\.wav", unchanged=(NEW,)),
    C("existing file as --out", "train gan",
      "train gan --data {drums_corrupt} --conditional --out {existing_file}", 1,
      r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    C("a corrupt file and a short clip in a class folder", "train gan",
      f"train gan --data {{drums_corrupt}} --conditional --out {{tmp}}/run {Q} {GAN_TINY}", 0,
      r"skipped .*zero\.wav: ", produced=("{tmp}/run/model.safetensors",),
      stdout=r"clips_padded +1"),
    C("JSB .json with a token model", "train lm",
      f"train lm --data {{jsb}} --arch lstm --out {NEW}", 1,
      r"jsb\.json is a JSON file .* train it with --arch pianoroll", unchanged=(NEW,)),
    C("a MIDI file instead of a folder", "train lm",
      f"train lm --data {{midi_random}} --arch lstm --out {NEW}", 1,
      r"random\.mid is a file; expected a folder of MIDI files", unchanged=(NEW,)),
    C("--resume on a mistyped run folder", "train lm",
      f"train lm --data {{midi_dir}} --arch lstm --out {NEW} --resume", 1, r"no run to resume in",
      unchanged=(NEW,)),
    C("existing file as --out", "train lm", "train lm --data {midi_dir} --out {existing_file}", 1,
      r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    # -- generation -------------------------------------------------------------------
    C("random-byte MIDI as --prime", "generate",
      f"generate --model folk --prime {{midi_random}} --out {NEW} --no-wav --no-png -n 1 --bars 1", 1,
      r"random\.mid is not a readable MIDI file", unchanged=(NEW,)),
    C("drums-only MIDI as --prime", "generate",
      f"generate --model folk --prime {{midi_drums}} --out {NEW} --no-wav --no-png -n 1 --bars 1", 1,
      r"drums\.mid has only drum tracks; expected pitched notes", unchanged=(NEW,)),
    C("existing file as --out", "generate",
      "generate --model folk --out {existing_file} --no-wav --no-png -n 1 --bars 1", 1,
      r"--out '.*existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    C("pickled model file (.pt)", "generate", f"generate --model {{pickle_pt}} --out {NEW} -n 1", 1,
      r"model\.pt is a pickled", unchanged=(NEW,)),
    C("model file of the wrong kind", "generate", f"generate --model {{classifier}} --out {NEW} -n 1",
      1, r"not a generator model file", unchanged=(NEW,)),
    C("model file of the wrong kind", "interpolate",
      f"interpolate {{generator}} {{midi_random}} {{midi_drums}} --out {NEW}", 1,
      r"generator\.safetensors is a 'tokens' generator .* needs a 'vae' model", unchanged=(NEW,)),
    C("truncated model file", "interpolate",
      f"interpolate {{truncated_model}} {{midi_random}} {{midi_drums}} --out {NEW}", 1,
      r"truncated\.safetensors is not a safetensors file", unchanged=(NEW,)),
    C("existing file as --out", "interpolate",
      "interpolate {generator} {midi_random} {midi_drums} --out {existing_file}", 1,
      r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    # -- datasets / demo --------------------------------------------------------------
    C("random bytes as --soundfont", "datasets build demo",
      f"datasets build demo --soundfont {{random_wav}} --out {NEW} --per-class 1 {Q}", 1,
      r"random\.wav' is not a SoundFont .*expected a General MIDI \.sf2", unchanged=(NEW,)),
    C("existing file as --out", "datasets build demo",
      f"datasets build demo --out {{existing_file}} --per-class 1 {Q}", 1,
      r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    C("existing file as --out", "datasets build folk",
      f"datasets build folk --out {{existing_file}} --limit 1 {Q}", 1,
      r"existing\.txt' is an existing file", unchanged=("{existing_file}",)),
    C("--epochs 0", "demo", f"demo --epochs 0 --out {NEW} {Q}", 1, r"--epochs 0: expected a positive",
      unchanged=(NEW,)),
    C("existing file as --out", "demo", f"demo --out {{existing_file}} {Q}", 1,
      r"--out '.*existing\.txt' is an existing file", unchanged=("{existing_file}",)),
]  # fmt: skip


@dataclasses.dataclass
class Outcome:
    exit: int | str
    out: str
    err: str
    missing: list[str]  # produced paths that are absent
    changed: list[str]  # unchanged paths that changed

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.err

    def problems(self, case: Case) -> list[str]:
        found = []
        if self.exit != case.exit:
            found.append(f"exit {self.exit}, expected {case.exit}")
        if case.message and not re.search(case.message, self.err):
            found.append(f"stderr does not match {case.message!r}")
        if case.stdout and not re.search(case.stdout, self.out):
            found.append(f"stdout does not match {case.stdout!r}")
        if self.traceback:
            found.append("a traceback in stderr")
        if self.missing:
            found.append(f"not produced: {self.missing}")
        if self.changed:
            found.append(f"changed: {self.changed}")
        return found


def make_zoo(root: Path) -> dict[str, Path]:
    """The zoo plus the entries the table names: a folder of all the audio, a MIDI
    folder, a JSB-style JSON file and a small catalog built with ``mfcc``."""
    import json

    z = build_zoo(root)
    z["audio_dir"] = root / "audio"
    z["midi_dir"] = root / "midi"
    z["jsb"] = root / "jsb.json"
    z["jsb"].write_text(json.dumps({"train": [[[60, 64, 67]]], "valid": [], "test": []}))
    catalog = root / "catalog"
    code, _, err = run_main(
        ["embed", str(z["good"]), str(z["unicode"]), str(z["sr96k"]), "--model", "mfcc",
         "--catalog", str(catalog), "--workers", "1", "--no-progress"]
    )  # fmt: skip
    assert code == 0, err
    z["catalog"] = catalog
    z["vocoder"] = _tiny_vocoder(root / "vocoder.safetensors")
    z["denoiser"] = _tiny_denoiser(root / "denoiser.safetensors")
    z["gan"] = _tiny_gan(root / "gan.safetensors", ["kick", "snare"])
    z["gan_uncond"] = _tiny_gan(root / "gan-uncond.safetensors", [])
    z.update(_drum_folders(root, z))
    z["manifest_missing_path"] = root / "nopath.csv"
    z["manifest_missing_path"].write_text("file,split\ngood.wav,train\n")
    return z


def _tiny_gan(path: Path, labels: list[str]) -> Path:
    """A tiny WaveGAN file (random weights: the plumbing is under test)."""
    from torchmusic.models.gan import GanSpec, build_gan, save_gan

    net, _ = build_gan("wavegan", dim=4, length=1024, n_layers=3, n_classes=len(labels))
    save_gan(path, net.eval(), GanSpec("wavegan", {}, labels, 22050))
    return path


def _drum_folders(root: Path, z: dict[str, Path]) -> dict[str, Path]:
    """Class-per-folder roots for ``train gan``: one class only; two classes whose files
    are all undecodable; two classes with a corrupt file and a clip shorter than the model."""
    import numpy as np
    import soundfile as sf

    def folder(name: str, files: dict[str, list[Path]]) -> Path:
        for label, paths in files.items():
            (root / name / label).mkdir(parents=True)
            for p in paths:
                shutil.copy(p, root / name / label / p.name)
        return root / name

    short = root / "short.wav"
    sf.write(short, (0.5 * np.hanning(500)).astype(np.float32), 22050)
    return {
        "drums_one_class": folder("one_class", {"kick": [z["good"]]}),
        "drums_undecodable": folder(
            "undecodable", {"kick": [z["zero"]], "snare": [z["random_wav"]]}
        ),
        "drums_corrupt": folder(
            "corrupt", {"kick": [z["good"], z["zero"]], "snare": [z["unicode"], short]}
        ),
    }


def _tiny_denoiser(path: Path) -> Path:
    """A tiny denoiser file (an untrained U-Net: near the identity; the plumbing is under test)."""
    from torchmusic.models.denoise import DenoiserSpec, build_denoiser, save_denoiser

    net = build_denoiser(preset="cpu", channels=[8, 16, 24], bottleneck_blocks=2)
    save_denoiser(path, net.eval(), DenoiserSpec("unet", {}, 22050))
    return path


def _tiny_vocoder(path: Path) -> Path:
    """A tiny Vocos-style vocoder file (random weights: the plumbing is under test)."""
    from torchmusic.features.config import FeatureConfig
    from torchmusic.models.vocoder import build_vocoder
    from torchmusic.models.vocoder.vocoderfile import VocoderSpec, save_vocoder

    net = build_vocoder("vocos", dim=16, intermediate_dim=32, num_layers=1)
    save_vocoder(path, net.eval(), VocoderSpec("vocos", {}, FeatureConfig().to_dict()))
    return path


def run_main(argv: list[str]) -> tuple[int | str, str, str]:
    """``main(argv)`` in this process: (exit status, stdout, stderr). An exception that
    escapes ``main`` is written to stderr as the traceback a user would see."""
    from torchmusic.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc(file=err)
            code = "exception"
    return code, out.getvalue(), err.getvalue()


def run_case(case: Case, zoo: dict[str, Path], tmp: Path) -> Outcome:
    """Run ``case`` with its own scratch folder ``tmp``; the zoo is shared and read-only
    except for the catalog, which is copied when the case may write to it."""
    tmp.mkdir(parents=True, exist_ok=True)
    names = {k: str(v) for k, v in zoo.items()}
    if any("{catalog}" in a for a in case.argv):
        names["catalog"] = str(shutil.copytree(zoo["catalog"], tmp / "catalog"))
    names["tmp"] = str(tmp)
    argv = [a.format(**names) for a in case.argv]
    watch = [Path(p.format(**names)) for p in case.unchanged]
    before = [snapshot(p) for p in watch]
    cwd = os.getcwd()
    work = tmp / "cwd"
    work.mkdir(exist_ok=True)
    for name, entry in case.cwd_files:
        shutil.copy(zoo[entry], work / name)
    os.chdir(work)
    try:
        code, out, err = run_main(argv)
    finally:
        os.chdir(cwd)
    missing = [p for p in (q.format(**names) for q in case.produced) if not Path(p).exists()]
    changed = [str(p) for p, b in zip(watch, before, strict=True) if snapshot(p) != b]
    return Outcome(code, out, err, missing, changed)
