"""systemd VM lane: the Debian package installed in a Debian 12 root filesystem, booted under
QEMU (TCG) with systemd as PID 1 on Debian's 6.12 kernel, checked from inside (guest.py) and
from the host through QEMU user networking (hostfwd on loopback).

    sudo .venv/bin/python tests/systemd/lane.py DEB NEWER_DEB [--json FILE]

DEB is installed into a copy of the cached root filesystem (tests/systemd/rootfs.sh) before
boot; NEWER_DEB (a build with a higher version) is put in the guest for the upgrade step.
Prints the guest's records (JSON lines) and the host's; the assertions are in
test_systemd_lane.py. THPWATCH_SYSTEMD_KERNEL=PATH boots another bzImage (e.g. the patched
kernel of tests/kernel/) with the same root filesystem and initramfs-free options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOOT_TIMEOUT_S = 1800  # a healthy run boots and checks in 5-10 min under TCG
MEMORY = "2G"
CPUS = "2"
IMAGE_SIZE = "6G"


def depends(deb: Path) -> list[str]:
    """The packages DEB depends on (the first of alternatives, without versions or :arch), which
    the root filesystem carries so that installing DEB there needs no network."""
    field = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    names = {re.split(r"[\s(:]", dep.split("|")[0].strip())[0] for dep in field.split(",")}
    return sorted(names - {""})


def prepare_rootfs(packages: list[str]) -> Path:
    done = subprocess.run([str(HERE / "rootfs.sh"), *packages], stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"tests/systemd/rootfs.sh failed (exit {done.returncode})")
    return Path(done.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_image(cache: Path, deb: Path, newer: Path, work: Path) -> Path:
    """The cached rootfs (read-only, under an overlay) with DEB installed (dpkg in a chroot:
    enabled, not started, as on any host installed before its first boot) and the lane's guest
    unit, written out as an ext4 image (mkfs.ext4 -d: no loop device)."""
    upper, scratch, root = work / "upper", work / "overlay-work", work / "rootfs"
    for d in (upper, scratch, root):
        d.mkdir()
    lower = cache / "rootfs"
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={upper},workdir={scratch}", str(root)],
        check=True,
    )  # fmt: skip
    try:
        install_into(root, deb, newer)
        image = work / "disk.img"
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(image), IMAGE_SIZE],
            check=True,
        )
    finally:
        subprocess.run(["umount", str(root)], check=False)
    shutil.rmtree(upper)
    shutil.rmtree(scratch)
    return image


def install_into(root: Path, deb: Path, newer: Path) -> None:
    lane = root / "root/lane"
    (lane / "newer").mkdir(parents=True)
    shutil.copy(deb, lane / deb.name)
    shutil.copy(newer, lane / "newer" / newer.name)
    shutil.copy(HERE / "guest.py", lane / "guest.py")
    # apt in the guest installs local .debs whose dependencies are all there: without the index
    # files it does not rebuild its cache from them, minutes under TCG.
    for index in (root / "var/lib/apt/lists").glob("*_Packages"):
        index.unlink()
    unit = root / "etc/systemd/system/thpwatch-lane.service"
    unit.write_text(
        "[Unit]\nDescription=thpwatch systemd lane checks\n"
        "After=thpwatch.service network-online.target\n\n"
        "[Service]\nType=oneshot\nExecStart=/usr/bin/python3 /root/lane/guest.py\n"
        "StandardOutput=journal+console\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    wants = root / "etc/systemd/system/multi-user.target.wants/thpwatch-lane.service"
    wants.symlink_to("/etc/systemd/system/thpwatch-lane.service")
    done = subprocess.run(
        ["chroot", str(root), "dpkg", "-i", f"/root/lane/{deb.name}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dpkg -i {deb.name} in the rootfs failed:\n{done.stdout}{done.stderr}")


def qemu_command(cache: Path, image: Path, work: Path, ports: dict[str, int]) -> list[str]:
    kernel = os.environ.get("THPWATCH_SYSTEMD_KERNEL")
    boot = ["-kernel", kernel] if kernel else ["-kernel", str(cache / "vmlinuz")]
    if not kernel:
        boot += ["-initrd", str(cache / "initrd.img")]
    fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in ports.items())
    return [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-m",
        MEMORY,
        "-smp",
        CPUS,
        *boot,
        "-append",
        "root=/dev/vda rw console=ttyS0 loglevel=4 systemd.show_status=0",
        "-drive",
        f"file={image},if=virtio,format=raw",
        "-netdev",
        f"user,id=n0,{fwd}",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-display",
        "none",
        "-serial",
        f"file:{work / 'console.log'}",
        "-serial",
        f"file:{work / 'records.jsonl'}",
        "-no-reboot",
    ]


def records(path: Path) -> list[dict]:
    out = []
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
    return out


def host_scrape(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120) as r:
            return {"status": r.status, "body": r.read().decode()}
    except OSError as e:
        return {"status": None, "error": str(e)}


def run(deb: Path, newer: Path, work: Path) -> dict[str, object]:
    start = time.monotonic()
    cache = prepare_rootfs(depends(deb))
    prepared = time.monotonic()
    image = build_image(cache, deb, newer, work)
    imaged = time.monotonic()
    ports = {10386: free_port(), 10387: free_port()}
    host: dict[str, object] = {}
    with subprocess.Popen(
        qemu_command(cache, image, work, ports),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as qemu:
        scraped = False
        while qemu.poll() is None:
            if time.monotonic() - imaged > BOOT_TIMEOUT_S:
                qemu.kill()
                host["timeout"] = BOOT_TIMEOUT_S
                break
            if not scraped and any(
                r["check"] == "wait_host" for r in records(work / "records.jsonl")
            ):
                host["scrape"] = host_scrape(ports[10386])
                with socket.create_connection(("127.0.0.1", ports[10387]), timeout=60):
                    pass
                scraped = True
            time.sleep(2)
        host["qemu_rc"] = qemu.wait()
        host["qemu_output"] = (qemu.stdout.read() if qemu.stdout else "")[-2000:]
    image.unlink()
    host["seconds"] = {
        "rootfs": round(prepared - start, 1),
        "image": round(imaged - prepared, 1),
        "boot_and_checks": round(time.monotonic() - imaged, 1),
        "total": round(time.monotonic() - start, 1),
    }
    console = (work / "console.log").read_text(errors="replace").splitlines()
    host["console_tail"] = console[-60:]
    return {"guest": records(work / "records.jsonl"), "host": host}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("deb", type=Path)
    ap.add_argument("newer", type=Path)
    ap.add_argument("--json", type=Path, help="write the result here too")
    ap.add_argument("--keep", type=Path, help="work dir to keep (console.log, records)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="thpwatch-systemd-lane-"))
    work.mkdir(parents=True, exist_ok=True)
    result = run(args.deb.resolve(), args.newer.resolve(), work)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0 if any(r["check"] == "done" for r in result["guest"]) else 1


if __name__ == "__main__":
    sys.exit(main())
