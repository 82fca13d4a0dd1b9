# The container image (Containerfile), built without any container registry: Debian packages
# make the build stage's base (mmdebstrap), the runtime stage is scratch. Needs root.
#   make image                      builds localhost/xturn:latest, unless it is up to date
#   make image IMAGE=xturn:test     another name
# The image carries the hash of its inputs (scripts/image.sh); tests/integration/test_image.sh
# builds it only when that hash changed.
IMAGE ?= localhost/xturn:latest

.PHONY: image
image:
	IMAGE=$(IMAGE) scripts/image.sh
