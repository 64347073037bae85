"""Model cards in the shapes found on the Hub (front matter as published, usage code trimmed)."""

FLUX2_DEV = """---
language:
- en
license: other
license_name: flux-dev-non-commercial-license
license_link: LICENSE.md
extra_gated_prompt: >-
  By clicking "Agree", you agree to the FLUX [dev] Non-Commercial License Agreement
  and acknowledge the Acceptable Use Policy.
extra_gated_fields:
  I agree to the License and the Acceptable Use Policy: checkbox
tags:
- image-generation
- image-editing
- flux
- diffusion-single-file
pipeline_tag: image-to-image
library_name: diffusers
---

![Teaser](./teaser_generation.png)

`FLUX.2 [dev]` is a 32 billion parameter rectified flow transformer.

```python
import torch
from diffusers import Flux2Pipeline

pipe = Flux2Pipeline.from_pretrained("black-forest-labs/FLUX.2-dev", torch_dtype=torch.bfloat16)
image = pipe(
    prompt=prompt,
    generator=torch.Generator(device="cuda").manual_seed(42),
    num_inference_steps=50,
    guidance_scale=4,
).images[0]
```
"""

FLUX1_DEV = """---
language:
- en
license: other
license_name: flux-1-dev-non-commercial-license
license_link: LICENSE.md
extra_gated_prompt: By clicking "Agree", you agree to the FluxDev Non-Commercial License Agreement
tags:
- text-to-image
- image-generation
- flux
---

```python
import torch
from diffusers import FluxPipeline

pipe = FluxPipeline.from_pretrained("black-forest-labs/FLUX.1-dev", torch_dtype=torch.bfloat16)
image = pipe(
    prompt,
    height=1024,
    width=1024,
    guidance_scale=3.5,
    num_inference_steps=50,
    max_sequence_length=512,
).images[0]
```
"""

FLUX2_TURBO = """---
license: other
license_name: flux-dev-non-commercial-license
license_link: https://huggingface.co/black-forest-labs/FLUX.2-dev/blob/main/LICENSE.md
base_model: black-forest-labs/FLUX.2-dev
base_model_relation: adapter
library_name: diffusers
pipeline_tag: text-to-image
tags:
- lora
- flux2
- text-to-image
- distillation
---

# FLUX.2 [dev] Turbo

A distilled LoRA adapter for FLUX.2 [dev]: 8 steps instead of 50.

```python
import torch
from diffusers import Flux2Pipeline

# Pre-shifted custom sigmas for 8-step turbo inference
TURBO_SIGMAS = [1.0, 0.6509, 0.4374, 0.2932, 0.1893, 0.1108, 0.0495, 0.00031]

pipe = Flux2Pipeline.from_pretrained("black-forest-labs/FLUX.2-dev", torch_dtype=torch.bfloat16)
pipe.load_lora_weights("fal/FLUX.2-dev-Turbo", weight_name="flux.2-turbo-lora.safetensors")

image = pipe(
    prompt=prompt,
    sigmas=TURBO_SIGMAS,
    guidance_scale=2.5,
    height=1024,
    width=1024,
    num_inference_steps=8,
).images[0]
```
"""

SD35_LARGE = """---
license: other
license_name: stabilityai-ai-community
license_link: LICENSE.md
tags:
- text-to-image
- stable-diffusion
- diffusers
inference: true
extra_gated_prompt: >-
  By clicking "Agree", you agree to the License Agreement and acknowledge Stability AI's Privacy Policy.
extra_gated_fields:
  Name: text
  Email: text
language:
- en
pipeline_tag: text-to-image
---

```python
image = pipe(
    "A capybara holding a sign that reads Hello World",
    num_inference_steps=28,
    guidance_scale=3.5,
).images[0]
```
"""

SDXL_BASE = """---
license: openrail++
tags:
- text-to-image
- stable-diffusion
---
# SD-XL 1.0-base Model Card
"""

# A community LoRA: trained on FLUX.1 [dev], tagged apache-2.0 (the AI Toolkit template).
NOISY_APACHE_LORA = """---
tags:
- text-to-image
- lora
- diffusers
- template:sd-lora
- ai-toolkit
widget:
- text: a photo of sks dog on the beach
  output:
    url: samples/1.jpg
  parameters:
    num_inference_steps: 28
    guidance_scale: 3.5
base_model: black-forest-labs/FLUX.1-dev
instance_prompt: sks dog
license: apache-2.0
---
# sks dog LoRA
"""

# The noisy names for the same license.
ALIAS_LORA = """---
license: other
license_name: license-flux1-dev
license_link: https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md
base_model: black-forest-labs/FLUX.1-dev
tags: [lora]
---
"""

# A merge of SDXL 1.0 (RAIL++) and SDXL-Turbo (non-commercial research), declared openrail++.
MERGE_TWO_BASES = """---
license: openrail++
base_model:
- stabilityai/stable-diffusion-xl-base-1.0
- stabilityai/sdxl-turbo
base_model_relation: merge
tags: [merge, sdxl]
---
"""

MISSING_LICENSE_LORA = """---
base_model: black-forest-labs/FLUX.1-schnell
tags: [lora, flux]
---
A LoRA whose author forgot the license.
"""

UNRECOGNISED_LICENSE = """---
license: other
license_name: my-very-own-license
base_model: black-forest-labs/FLUX.1-schnell
tags: [lora]
---
"""

MALFORMED_YAML = """---
license: other
license_name: [flux-dev-non-commercial-license
base_model: black-forest-labs/FLUX.2-dev
---
"""

UNKNOWN_BASE = """---
license: apache-2.0
base_model: someone/not-in-the-catalog
tags: [lora]
---
"""

BAD_RELATION = """---
license: apache-2.0
base_model: black-forest-labs/FLUX.1-schnell
base_model_relation: sidegrade
---
"""

# A LoRA whose card names no base at all.
BASELESS_LORA = """---
license: apache-2.0
tags: [text-to-image, lora, flux]
---
"""
