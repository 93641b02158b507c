"""``cae-impact``: the command line of the workbook (French, for CAEs and the Makefile).

Imports are lazy so that ``--help`` and a no-op rerun start fast.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from analysis.method.schemas import MethodError

EXIT_CODES = """\
codes de sortie :
  0  succès (des avertissements sont possibles)
  1  erreur dans les données ou échec d'au moins une CAE (les autres CAE ont été traitées)
  2  commande mal formée (option inconnue, dossier absent)
"""


def _dir(value: str) -> Path:
    return Path(value).expanduser().resolve()


def cmd_demo(args) -> int:
    from analysis import config
    from analysis.intake import demo

    raw = args.raw or config.RAW_DIR
    slugs = demo.generate(raw, n_cae=args.cae, seed=args.seed, scale=args.scale)
    print(f"Données de démonstration écrites dans {raw} : {', '.join(slugs)}")
    return 0


def cmd_templates(args) -> int:
    from analysis.intake import templates

    paths = templates.write_templates(args.dir)
    print(f"{len(paths)} modèles écrits dans {args.dir} :")
    for p in paths:
        print(f"  - {p.name}")
    return 0


def cmd_validate(args) -> int:
    from analysis.intake import process as intake

    any_error = False
    for d in args.dirs:
        if not d.is_dir():
            print(f"Dossier introuvable : {d}", file=sys.stderr)
            return 2
        problems = intake.validate_dir(d)
        errors, warnings = problems.errors, problems.warnings
        status = "ERREURS" if errors else "valide"
        print(f"{d.name} : {status} — {len(errors)} erreur(s), {len(warnings)} avertissement(s)")
        for p in problems:
            print(f"  {p}")
        any_error |= bool(errors)
    return 1 if any_error else 0


def cmd_run(args) -> int:
    from analysis import config
    from analysis.pipeline import runner

    raw = args.raw or config.RAW_DIR
    if args.demo_if_empty and not runner.list_raw_caes(raw):
        from analysis.intake import demo

        slugs = demo.generate(raw)
        print(f"data/raw ne contient aucune CAE : données de démonstration générées ({', '.join(slugs)}).")
    if not runner.list_raw_caes(raw):
        print(
            f"Aucune CAE dans {raw}. Déposez les fichiers d'une CAE dans {raw}/<nom-de-la-cae>/ "
            "ou lancez `cae-impact demo`.",
            file=sys.stderr,
        )
        return 2
    summary = runner.run(
        caes=args.cae,
        raw_dir=raw,
        processed_dir=args.processed,
        out_dir=args.out,
        jobs=args.jobs,
        force=args.force,
        national=not args.no_national,
        export_html=not args.no_html,
    )
    failed = [c for c in summary["caes"] if not c["ok"]]
    done = [c for c in summary["caes"] if c["ok"]]
    out = args.out or config.OUT_DIR
    print(f"\n{len(done)} CAE traitée(s), {len(failed)} en échec. Résultats : {out}")
    for c in failed:
        print(f"\n✗ {c['cae']} : {c['error']}", file=sys.stderr)
    nat = summary.get("national")
    if nat and not nat["ok"]:
        print(f"\n✗ synthèse nationale : {nat['error']}", file=sys.stderr)
    return 0 if summary["ok"] else 1


def cmd_report(args) -> int:
    from analysis.reporting import book

    return book.build(processed_dir=args.processed, out_dir=args.out, render=not args.no_render, report_dir=args.report)


def cmd_endi_mapping(args) -> int:
    from analysis.intake import endi

    path = endi.write_mapping(args.dir, args.output)
    todo = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if re.search(r':\s*"?A_COMPLETER"?\s*(#|$)', line))
    print(f"Table de correspondance écrite : {path} ({todo} libellé(s) à compléter).")
    print("Relisez chaque proposition, remplacez chaque « A_COMPLETER » par un code du protocole, puis relancez.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cae-impact",
        description="Classeur CAE-IMPACT : mesure d'impact social des coopératives d'activité et d'emploi.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMANDE")

    s = sub.add_parser("demo", help="générer les CAE de démonstration (données fictives, déterministes)", epilog=EXIT_CODES)
    s.add_argument("--cae", type=int, default=7, metavar="N", help="nombre de CAE (1 à 7, défaut 7)")
    s.add_argument("--seed", type=int, default=2019, metavar="S", help="graine du générateur (défaut 2019)")
    s.add_argument("--scale", type=float, default=1.0, help="facteur de taille (défaut 1.0)")
    s.add_argument("--raw", type=_dir, metavar="DOSSIER", help="dossier des données brutes (défaut data/raw)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("templates", help="écrire les modèles de fichiers à remplir (XLSX et CSV)", epilog=EXIT_CODES)
    s.add_argument("dir", type=_dir, metavar="DOSSIER")
    s.set_defaults(func=cmd_templates)

    s = sub.add_parser("validate", help="vérifier les fichiers d'une ou plusieurs CAE sans rien écrire", epilog=EXIT_CODES)
    s.add_argument("dirs", type=_dir, nargs="+", metavar="DOSSIER")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("run", help="lire, valider et analyser chaque CAE, puis la synthèse nationale", epilog=EXIT_CODES)
    s.add_argument("--cae", nargs="+", metavar="NOM", help="ne traiter que ces CAE (nom du dossier)")
    s.add_argument("--jobs", type=int, metavar="N", help="CAE traitées en parallèle (défaut : nombre de cœurs)")
    s.add_argument("--raw", type=_dir, metavar="DOSSIER", help="données brutes (défaut data/raw)")
    s.add_argument("--processed", type=_dir, metavar="DOSSIER", help="données traitées (défaut data/processed)")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="carnets exécutés et rapports HTML (défaut outputs)")
    s.add_argument("--force", action="store_true", help="tout recalculer, même ce qui est à jour")
    s.add_argument("--no-national", action="store_true", help="ne pas exécuter la synthèse nationale")
    s.add_argument("--no-html", action="store_true", help="ne pas exporter les carnets en HTML")
    s.add_argument("--demo-if-empty", action="store_true", help="générer la démonstration si aucune CAE n'est présente")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser(
        "report",
        help="assembler le rapport national (livre Quarto)",
        description="Assemble le livre Quarto à partir des carnets exécutés et le rend si Quarto est installé. "
        "Pour présenter les CAE comme « CAE 1 … CAE N », réglez anonymiser_cae dans methodology/publication.yml.",
        epilog=EXIT_CODES,
    )
    s.add_argument("--processed", type=_dir, metavar="DOSSIER", help="données traitées (défaut data/processed)")
    s.add_argument("--out", type=_dir, metavar="DOSSIER", help="carnets exécutés (défaut outputs)")
    s.add_argument("--no-render", action="store_true", help="préparer et vérifier le livre sans le rendre")
    s.add_argument("--report", type=_dir, metavar="DOSSIER", help="projet Quarto (défaut report)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "endi-mapping", help="lister les libellés des exports enDI et proposer leur correspondance", epilog=EXIT_CODES
    )
    s.add_argument("dir", type=_dir, metavar="DOSSIER", help="dossier de la CAE contenant les exports enDI")
    s.add_argument("--output", type=_dir, metavar="FICHIER", help="fichier de correspondance (défaut : dans le dossier)")
    s.set_defaults(func=cmd_endi_mapping)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130
    except MethodError as exc:  # a methodology file does not match its schema: French, no traceback
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
