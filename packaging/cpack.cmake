# cpack.cmake — the Debian package: `cpack -G DEB` in the build folder writes weft_<version>_<arch>.deb
# holding what `cmake --install` installs under /usr (programs, systemd units, completion, man page).
# Depends: the shared libraries the programs link, found by dpkg-shlibdeps (with their versions);
# redis-server is recommended (a node or hub runs its own unless redis.url points elsewhere).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "weft developers <weft@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "peer-to-peer mesh VPN")
set(CPACK_PACKAGE_DESCRIPTION "weft joins machines anywhere into one encrypted virtual LAN: Noise IKpsk2 and
AES-256-GCM or ChaCha20-Poly1305, peers found through a hub and connected directly with ICE, relayed through TURN where
NATs forbid it. The package holds the weft command, its services, the hub, systemd units (weft@.service,
weft-hub.service), bash completion and the weft(1) man page.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "coturn, bash-completion")
set(CPACK_STRIP_FILES ON)
include(CPack)
