"""``cae-impact``: the command line of the workbook (French, for CAEs and the Makefile).

Every message a CAE sees is French, argparse's own included: its strings
go through ``gettext`` (module-level ``_``), so :func:`french` swaps in
:data:`ARGPARSE_FR` while the parser is built and used, and
:class:`FrenchParser` words the usage errors (exit code 2, with a
"vouliez-vous dire" suggestion for a mistyped command).

Imports are lazy so that ``--help`` and a no-op rerun start fast.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from analysis.method.schemas import MethodError

EXIT_CODES = """\
codes de sortie :
  0  succès (des avertissements sont possibles)
  1  erreur dans les données ou échec d'au moins une structure (les autres ont été traitées)
  2  commande mal formée (option inconnue, dossier absent)
"""

#: argparse's English strings (Python 3.11–3.12) and their French wording.
ARGPARSE_FR = {
    "usage: ": "utilisation : ",
    # section headings are printed as "%s:" — the trailing space gives French "options :"
    "positional arguments": "arguments ",
    "options": "options ",
    "show this help message and exit": "afficher cette aide et quitter",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "the following arguments are required: %s": "argument(s) obligatoire(s) manquant(s) : %s",
    "unrecognized arguments: %s": "argument(s) non reconnu(s) : %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choix possibles : %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "expected one argument": "une valeur est attendue",
    "expected at least one argument": "au moins une valeur est attendue",
    "expected at most one argument": "au plus une valeur est attendue",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r (%(type)s attendu)",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "ignored explicit argument %r": "argument explicite ignoré : %r",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
    "unexpected option string: %s": "option inattendue : %s",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
    "expected %s argument": "%s valeur attendue",
    "expected %s arguments": "%s valeurs attendues",
}

#: Names of the value types in "valeur invalide … (TYPE attendu)".
TYPE_NAMES_FR = {"int": "nombre entier", "float": "nombre", "_dir": "chemin de dossier"}

#: French words a CAE may type for a command, and the command they mean.
COMMAND_WORDS_FR = {
    "valider": "validate", "verifier": "validate", "vérifier": "validate", "lancer": "run", "executer": "run",
    "exécuter": "run", "modeles": "templates", "modèles": "templates", "rapport": "report", "demonstration": "demo",
    "démonstration": "demo", "démo": "demo",
}


def _fr(message: str) -> str:
    return ARGPARSE_FR.get(message, message)


def _nfr(singular: str, plural: str, n: int) -> str:
    return _fr(singular if n == 1 else plural)


@contextmanager
def french():
    """argparse speaks French inside the block (its ``_``/``ngettext`` swapped, then restored)."""
    saved = argparse._, argparse.ngettext
    argparse._, argparse.ngettext = _fr, _nfr
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


def _guillemets(text: str) -> str:
    """'x' (Python's repr quotes in argparse messages) → « x »."""
    return re.sub(r"'([^']*)'", "« \\1 »", text)


class FrenchFormatter(argparse.HelpFormatter):
    """Wraps each line of a description or epilog on its own, so the
    exit-code table keeps its layout and long sentences still wrap."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        def fill(line: str) -> str:
            hang = indent + " " * (len(line) - len(line.lstrip()) + 3) if line[:1] == " " else indent
            return textwrap.fill(line, width, initial_indent=indent, subsequent_indent=hang)

        return "\n".join(fill(line) if line.strip() else "" for line in text.splitlines())


class FrenchParser(argparse.ArgumentParser):
    """argparse with French usage errors: one line naming the mistake, a
    suggestion when a command or option looks mistyped, where to find help;
    exit code 2 (README, "Exit codes")."""

    def error(self, message: str):
        hint = ""
        m = re.search(r"invalid choice: '([^']*)'|choix invalide : '([^']*)'", message)
        if m:
            typed = m.group(1) or m.group(2)
            choices = re.findall(r"'([^']*)'", message.split("(", 1)[1] if "(" in message else "")
            guess = COMMAND_WORDS_FR.get(typed.lower())
            if guess is None:
                close = difflib.get_close_matches(typed, choices, n=1, cutoff=0.6)
                guess = close[0] if close else None
            if guess:
                hint = f"Vouliez-vous dire « {guess} » ?\n"
        for name, fr in TYPE_NAMES_FR.items():
            message = message.replace(f"({name} attendu)", f"({fr} attendu)")
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {_guillemets(message)}\n{hint}Aide : {self.prog} --help\n")


def _dir(value: str) -> Path:
    return Path(value).expanduser().resolve()


def _n(n: int, singular: str, plural: str | None = None) -> str:
    """« 0 erreur », « 1 erreur », « 2 erreurs » (French: 0 and 1 take the singular)."""
    return f"{n} {singular if n < 2 else (plural or singular + 's')}"


def _error(message: str) -> int:
    print(f"cae-impact : erreur : {message}", file=sys.stderr)
    return 2


def _profile(args, raw: Path | None = None):
    """The study profile of this command (``--profil``, else the description
    files under ``raw``, else the default) made the run's profile."""
    from analysis.method import profile as profiles

    prof = profiles.for_command(getattr(args, "profil", None), raw)
    profiles.activate(prof)
    return prof


def _generate_demo(prof, raw: Path, **kw) -> list[str]:
    """Demo data of ``prof``: the default profile's generator (``intake/demo.py``,
    kept byte-identical) or the generic one driven by the profile's demo.yml."""
    from analysis.intake import demo, demo_profile

    if demo_profile.has_settings(prof):
        return demo_profile.generate(raw, prof, n=kw.get("n_cae"), seed=kw.get("seed"), scale=kw.get("scale"))
    return demo.generate(raw, **{k: v for k, v in kw.items() if v is not None})


def cmd_demo(args) -> int:
    from analysis import config
    from analysis.intake import demo

    raw = args.raw or config.RAW_DIR
    if args.supprimer:
        removed, kept = demo.remove(raw, args.processed or config.PROCESSED_DIR, args.out or config.OUT_DIR)
        for path, reason in kept:
            print(f"Laissé en place : {path} ({reason}).", file=sys.stderr)
        if not removed:
            print("Aucune donnée de démonstration à supprimer.")
            return 0
        print(f"Démonstration supprimée ({_n(len(removed), 'élément')}) :")
        for p in removed:
            print(f"  - {p}")
        print("La synthèse nationale et le livre seront refaits sans elle au prochain « make report ».")
        return 0
    prof = _profile(args)
    slugs = _generate_demo(prof, raw, n_cae=args.cae, seed=args.seed, scale=args.scale)
    print(f"Données de démonstration écrites dans {raw} : {', '.join(slugs)}")
    print("Pour les retirer avec tout ce qu'elles ont produit : cae-impact demo --supprimer")
    return 0


def cmd_templates(args) -> int:
    from analysis.intake import templates

    _profile(args)
    paths = templates.write_templates(args.dir)
    print(f"{_n(len(paths), 'modèle')} écrits dans {args.dir} :")
    for p in paths:
        print(f"  - {p.name}")
    return 0


def cmd_validate(args) -> int:
    from analysis import config
    from analysis.intake import process as intake
    from analysis.intake.problems import Problem
    from analysis.pipeline import runner

    out = args.out or config.OUT_DIR
    missing = [d for d in args.dirs if not d.is_dir()]
    if missing:
        return _error("dossier introuvable : " + ", ".join(str(d) for d in missing))
    prof = _profile(args, args.dirs[0].parent)
    desc = prof.description_file
    for d in args.dirs:  # data/raw itself instead of one structure's folder
        if not (d / desc).exists() and any((c / desc).exists() for c in d.iterdir() if c.is_dir()):
            return _error(f"{d} contient les dossiers de plusieurs {prof.term('structure.pluriel')} : indiquez le dossier "
                          f"d'{prof.term('structure.un')}, par exemple {d / prof.get('termes.structure.exemple_dossier', 'ma-structure')}.")
    any_error = False
    for d in args.dirs:
        fd = intake.load_folder(
            d, progress=lambda f, n: print(f"  {f} : {n:,} lignes lues…".replace(",", "\u202f"), file=sys.stderr, flush=True))
        problems = fd.problems
        slug = d.name
        reason = runner.folder_name_problem(d.name)
        if reason:
            slug = runner.suggest_slug(d.name)
            problems.items.insert(0, Problem(
                d.name, "Nom de dossier invalide : « cae-impact run » ne traitera pas ce dossier.",
                f"Renommez-le par exemple « {slug} » (lettres minuscules sans accents, chiffres et tirets)."))
        errors, warnings = problems.errors, problems.warnings
        status = "ERREURS" if errors else "valide"
        print(f"{d.name} : {status} — {_n(len(errors), 'erreur')}, {_n(len(warnings), 'avertissement')}")
        for line in intake.grouped_lines(problems):
            print(f"  {line}")
        if reason:  # no outputs/<slug>/ for a folder run will not process: nothing left behind after renaming
            print("  Aucun rapport écrit dans outputs/ : renommez d'abord le dossier, puis relancez la vérification.")
        else:
            html, csv_path = intake.write_validation_report(slug, problems, Path(out) / slug, fd.info)
            print(f"  Rapport : {html}\n  Tableau : {csv_path}")
        any_error |= bool(errors)
    return 1 if any_error else 0


def _run_lines(summary: dict, out: Path) -> tuple[list[str], list[str]]:
    """French end-of-run lines: (to stdout, to stderr). Each failure was
    already shown in full when it happened; here it is named once."""
    caes = summary["caes"]
    done = [c for c in caes if c["ok"] and not c.get("skipped")]
    fresh = [c for c in caes if c.get("skipped")]
    failed = [c for c in caes if not c["ok"]]
    nat = summary.get("national")
    lines, errs = [], []
    from analysis.method import profile as profiles

    prof = profiles.current()
    one, many = prof.term("structure.singulier"), prof.term("structure.pluriel")
    e = "e" if prof.get("termes.structure.genre") == "f" else ""
    if caes and len(fresh) == len(caes) and (nat is None or nat.get("skipped")) and not summary.get("national_skipped"):
        lines.append(f"\nTout est à jour ({_n(len(caes), one, many)}) : rien à refaire. Résultats : {out}")
    else:
        parts = [f"{_n(len(done), f'{one} traité{e}', f'{many} traité{e}s')}"]
        if fresh:
            parts.append(f"{len(fresh)} à jour")
        parts.append(f"{len(failed)} en échec")
        lines.append(f"\n{', '.join(parts)}. Résultats : {out}")
    if nat and nat["ok"]:
        lines.append("Synthèse nationale " + ("à jour." if nat.get("skipped") else f"refaite : {out / 'national'}"))
    if summary.get("national_skipped"):
        errs.append(summary["national_skipped"])
    for c in failed:
        stage = next((s["stage"] for s in c.get("stages", []) if not s["ok"]), "")
        where = f" à l'étape « {stage} »" if stage else ""
        report = out / c["cae"] / "validation.html"
        errs.append(f"✗ {c['cae']} : échec{where} (détail ci-dessus" + (f" ; rapport : {report})" if stage == "lecture" else ")"))
    if nat and not nat["ok"]:
        errs.append("✗ synthèse nationale : échec (détail ci-dessus)")
    return lines, errs


def failed_line(summary: dict) -> str:
    """The one French line ``make report`` ends on when something failed
    ("" when nothing did): which CAEs are missing from the book, and why."""
    names = [c["cae"] for c in summary.get("caes", []) if not c["ok"]]
    names += [f"« {n} » (dossier mal nommé)" for n in summary.get("invalid_folders", [])]
    nat = summary.get("national") or {}
    if nat and not nat.get("ok"):
        names.append("la synthèse nationale")
    if not names:
        return ""
    return (f"Rapport assemblé sans {', '.join(names)} : "
            f"{'cet élément a' if len(names) == 1 else 'ces éléments ont'} échoué, voir les messages ci-dessus ; "
            "corrigez puis relancez « make report ».")


def cmd_run(args) -> int:
    import json

    from analysis import config
    from analysis.pipeline import runner

    raw = args.raw or config.RAW_DIR
    out = args.out or config.OUT_DIR
    if args.bilan:  # the Makefile's last line after the book
        try:
            summary = json.loads((Path(out) / "run_summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0
        line = failed_line(summary)
        if line:
            print(line, file=sys.stderr)
        return 0
    prof = _profile(args, raw)
    scan = runner.scan_raw(raw)
    if args.demo_if_empty and not scan.caes and not scan.ignored:
        slugs = _generate_demo(prof, raw, scale=args.scale)
        print(f"{raw} ne contient aucun{'e' if prof.get('termes.structure.genre') == 'f' else ''} "
              f"{prof.term('structure.singulier')} : données de démonstration générées ({', '.join(slugs)}).")
        print("Pour les retirer ensuite avec tout ce qu'elles ont produit : cae-impact demo --supprimer")
        scan = runner.scan_raw(raw)
    for m in scan.messages():
        print(m, file=sys.stderr)
    if not scan.caes:
        msg = prof.phrase("aucune_structure", dossier=raw)
        return _error(msg[:1].lower() + msg[1:].rstrip(".") + " ou lancez « cae-impact demo ».")
    try:
        summary = runner.run(
            methodology_dir=prof.methodology_dir,
            caes=args.cae,
            raw_dir=raw,
            processed_dir=args.processed,
            out_dir=args.out,
            jobs=args.jobs,
            executor=args.executeur,
            dask_address=args.dask_adresse,
            force=args.force,
            national=not args.no_national,
            export_html=not args.no_html,
            new_key=args.nouvelle_cle,
        )
    except runner.UnknownCae as exc:
        return _error(str(exc))
    lines, errs = _run_lines(summary, Path(out))
    for line in lines:
        print(line)
    for line in errs:
        print(line, file=sys.stderr)
    return 0 if summary["ok"] and not scan.invalid else 1


def cmd_report(args) -> int:
    from analysis.reporting import book

    _profile(args)
    return book.build(processed_dir=args.processed, out_dir=args.out, render=not args.no_render, report_dir=args.report)


def cmd_compare(args) -> int:
    from analysis.pipeline import runs
    from analysis.reporting import compare

    if args.liste:
        from analysis import config

        for r in runs.list_runs(args.out or config.OUT_DIR):
            print(f"{r['empreinte']}  {r.get('date_utc', '?')}  {len(r.get('caes', []))} CAE")
        return 0
    try:
        cmp, paths = compare.compare(args.reference, args.raw, args.processed, args.out, args.methode, args.jobs, args.actuelle)
    except (ValueError, RuntimeError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"\n{len(cmp.changes)} changement(s) de méthode ; {len(cmp.moved)} valeur(s) modifiée(s).")
    for c in cmp.changes:
        print(f"  - {c['texte']}")
    print(f"Comparaison : {paths['html']} (et {paths['csv'].name})")
    return 0


def cmd_endi_mapping(args) -> int:
    from analysis.intake import endi

    path = endi.write_mapping(args.dir, args.output)
    todo = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if re.search(r':\s*"?A_COMPLETER"?\s*(#|$)', line))
    print(f"Table de correspondance écrite : {path} ({todo} libellé(s) à compléter).")
    print("Relisez chaque proposition, remplacez chaque « A_COMPLETER » par un code du protocole, puis relancez.")
    return 0


def _profil_option(s) -> None:
    s.add_argument("--profil", metavar="NOM", help="profil d'étude : nom d'un dossier de profiles/ (cae, tiers-lieux) "
                   "ou chemin d'un dossier contenant profile.yml (défaut : clé « profil » des fichiers de description, sinon cae)")


def build_parser() -> argparse.ArgumentParser:
    p = FrenchParser(
        prog="cae-impact",
        description="Classeur CAE-IMPACT : mesure d'impact social des coopératives d'activité et d'emploi.",
        epilog=EXIT_CODES,
        formatter_class=FrenchFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMANDE", title="commandes ")

    s = sub.add_parser(
        "demo", help="générer (ou supprimer) les structures de démonstration (données fictives, déterministes)",
        description="Écrit les structures de démonstration du profil (7 CAE par défaut) dans data/raw ; avec --supprimer, les retire avec tout "
        "ce qu'elles ont produit (data/processed, outputs, synthèse nationale).", epilog=EXIT_CODES,
    )
    s.add_argument("--supprimer", action="store_true",
                   help="supprimer la démonstration et tout ce qu'elle a produit (vos propres dossiers sont conservés)")
    s.add_argument("--cae", type=int, default=None, metavar="N", help="nombre de structures (défaut : toutes celles du profil, 7 CAE)")
    s.add_argument("--seed", type=int, default=None, metavar="S", help="graine du générateur (défaut : celle du profil, 2019 pour les CAE)")
    s.add_argument("--scale", type=float, default=None, metavar="F", help="facteur de taille (défaut 1.0)")
    s.add_argument("--raw", type=_dir, metavar="DOSSIER", help="dossier des données brutes (défaut data/raw)")
    s.add_argument("--processed", type=_dir, metavar="DOSSIER", help="données traitées (défaut data/processed)")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="carnets et rapports (défaut outputs)")
    _profil_option(s)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("templates", help="écrire les modèles de fichiers à remplir (XLSX et CSV)", epilog=EXIT_CODES)
    s.add_argument("dir", type=_dir, metavar="DOSSIER", help="dossier où écrire les modèles, par exemple modeles/")
    _profil_option(s)
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser(
        "validate", help="vérifier les fichiers d'une ou plusieurs structures (rapport dans outputs/<dossier>/)",
        description="Vérifie les fichiers et le nom du dossier de chaque structure, affiche chaque problème et écrit "
        "outputs/<dossier>/validation.html et validation.csv. Rien n'est écrit dans data/processed.",
        epilog=EXIT_CODES,
    )
    s.add_argument("dirs", type=_dir, nargs="+", metavar="DOSSIER", help="dossier d'une structure (CAE, tiers-lieu…), par exemple data/raw/ma-cae")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="où écrire les rapports (défaut outputs)")
    _profil_option(s)
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser(
        "run", help="lire, valider et analyser chaque structure (CAE, tiers-lieu…), puis la synthèse nationale",
        description="Traite chaque dossier de data/raw (ou ceux de --cae) puis la synthèse nationale. Avec --cae, "
        "la synthèse nationale porte sur tous les dossiers de data/raw : elle n'est refaite que si les autres "
        "sont à jour, sinon un message le dit.",
        epilog=EXIT_CODES,
    )
    s.add_argument("--cae", nargs="+", metavar="NOM", help="ne traiter que ces structures (nom du dossier)")
    s.add_argument("--jobs", type=int, metavar="N", help="structures traitées en parallèle, ou carnets d’une structure refaite seule (défaut : nombre de cœurs)")
    s.add_argument("--executeur", choices=["local", "dask"], default="local",
                   help="local : processus de cette machine (défaut) ; dask : tâches Dask distributed (extra « dask »)")
    s.add_argument("--dask-adresse", metavar="ADRESSE",
                   help="ordonnanceur Dask existant (ex. tcp://hote:8786) ; défaut : un LocalCluster de --jobs processus")
    s.add_argument("--raw", type=_dir, metavar="DOSSIER", help="données brutes (défaut data/raw)")
    s.add_argument("--processed", type=_dir, metavar="DOSSIER", help="données traitées (défaut data/processed)")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="carnets exécutés et rapports HTML (défaut outputs)")
    s.add_argument("--force", action="store_true", help="tout recalculer, même ce qui est à jour")
    s.add_argument("--no-national", action="store_true", help="ne pas exécuter la synthèse nationale")
    s.add_argument("--no-html", action="store_true", help="ne pas exporter les carnets en HTML")
    s.add_argument("--demo-if-empty", action="store_true", help="générer la démonstration si data/raw est vide")
    s.add_argument("--scale", type=float, default=None, metavar="F", help="facteur de taille de la démonstration générée (défaut 1.0)")
    s.add_argument("--bilan", action="store_true", help=argparse.SUPPRESS)  # make report's last line
    s.add_argument("--nouvelle-cle", action="store_true",
                   help="accepter une nouvelle clé de pseudonymisation alors que des données traitées avec une autre clé existent "
                   "(tous les pseudonymes changent)")
    _profil_option(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser(
        "report",
        help="assembler le rapport national (livre Quarto)",
        description="Assemble le livre Quarto à partir des carnets exécutés et le rend si Quarto est installé. "
        "Pour présenter les structures sous un nom anonyme (« CAE 1 … CAE N », « Tiers-lieu 1 … »), réglez anonymiser_structures "
        "dans le fichier publication.yml de la méthode.",
        epilog=EXIT_CODES,
    )
    s.add_argument("--processed", type=_dir, metavar="DOSSIER", help="données traitées (défaut data/processed)")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="carnets exécutés (défaut outputs)")
    s.add_argument("--no-render", action="store_true", help="préparer et vérifier le livre sans le rendre")
    s.add_argument("--report", type=_dir, metavar="DOSSIER", help="projet Quarto (défaut report)")
    _profil_option(s)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "compare",
        help="comparer les résultats de la méthode actuelle à une référence",
        description="Compare les résultats de la méthode actuelle à ceux d'une référence : « precedent » (dernière exécution "
        "enregistrée d'une autre méthode), l'empreinte d'une exécution enregistrée, un dossier de méthode ou une révision git "
        "de methodology/ (git:RÉVISION). Écrit comparaison.html et comparaison.csv dans outputs/comparaison/.",
        epilog=EXIT_CODES,
    )
    s.add_argument("--reference", default="precedent", metavar="RÉF", help="référence (défaut : precedent)")
    s.add_argument("--methode", type=_dir, metavar="DOSSIER", help="méthode actuelle (défaut methodology)")
    s.add_argument("--actuelle", metavar="EMPREINTE", help="une exécution enregistrée comme résultat actuel (sans recalcul)")
    s.add_argument("--liste", action="store_true", help="lister les exécutions enregistrées")
    s.add_argument("--jobs", type=int, metavar="N", help="structures traitées en parallèle")
    s.add_argument("--raw", type=_dir, metavar="DOSSIER", help="données brutes (défaut data/raw)")
    s.add_argument("--processed", type=_dir, metavar="DOSSIER", help="données traitées (défaut data/processed)")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="résultats (défaut outputs)")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "endi-mapping", help="lister les libellés des exports enDI et proposer leur correspondance", epilog=EXIT_CODES
    )
    s.add_argument("dir", type=_dir, metavar="DOSSIER", help="dossier de la CAE contenant les exports enDI")
    s.add_argument("--output", type=_dir, metavar="FICHIER", help="fichier de correspondance (défaut : dans le dossier)")
    s.set_defaults(func=cmd_endi_mapping)
    for child in sub.choices.values():
        child.formatter_class = FrenchFormatter
    return p


def main(argv: list[str] | None = None) -> int:
    with french():
        parser = build_parser()
        args = parser.parse_args(argv)
    from analysis.method.profile import ProfileError

    try:
        return args.func(args)
    except ProfileError as exc:  # unknown --profil, structures of two studies
        return _error(str(exc))
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cae-impact validate … | head`: the reader left, say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MethodError as exc:  # a methodology file does not match its schema: French, no traceback
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:  # a bug or a system problem: one French line, the traceback on request
        import os

        if os.environ.get("CAE_IMPACT_DEBUG"):
            raise
        print(f"cae-impact : erreur inattendue ({type(exc).__name__} : {exc}).\n"
              "Relancez avec CAE_IMPACT_DEBUG=1 pour le détail et transmettez-le à l'équipe du projet.", file=sys.stderr)
        return 1


def console() -> None:
    """The ``cae-impact`` command: :func:`main`, then a short exit.

    Everything a normal exit does that matters is done here, in its order:
    wait for the threads that are not daemons, run the ``atexit`` handlers
    (warm kernels shut down, pools joined, temporary folders removed,
    logging flushed), flush stdout and stderr. Only the interpreter's
    teardown of the modules (pandas, SciPy, matplotlib…) is skipped: 0.2–0.3 s
    per command (``python -c "import …"`` 1.17–1.34 s against 0.98–1.09 s
    with this exit, three pairs, 2026-12-01), paid twice by every
    ``make report``. ``python -m analysis.cli`` and the tests call
    :func:`main` and exit the usual way."""
    import atexit
    import os
    import threading

    try:
        rc = main()
    except SystemExit as exc:  # argparse, or a French message for the user
        if exc.code is None or isinstance(exc.code, int):
            rc = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            rc = 1
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe has nothing to flush
            pass
    os._exit(0 if rc is None else rc if isinstance(rc, int) else 1)


if __name__ == "__main__":
    sys.exit(main())
