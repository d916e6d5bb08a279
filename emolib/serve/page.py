"""The HTML of the upload page (a Jinja template rendered with autoescaping on)."""

EMOTION_COLOURS = {
    "angry": "#d62728", "anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd",
    "happy": "#2ca02c", "happiness": "#2ca02c", "sad": "#1f77b4", "sadness": "#1f77b4",
    "surprise": "#ff7f0e", "neutral": "#7f7f7f", "contempt": "#e377c2",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emolib: emotions in a photo</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
 h1 { font-size: 1.6rem; }
 form { margin: 1rem 0; padding: 1rem; border: 1px solid #ccc; border-radius: .5rem; }
 .error { color: #a00; background: #fee; padding: .6rem; border-radius: .3rem; }
 .mood { font-size: 1.3rem; margin: .6rem 0; }
 svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
 table { border-collapse: collapse; margin-top: .8rem; }
 td, th { padding: .25rem .6rem; border-bottom: 1px solid #eee; text-align: left; }
 footer { margin-top: 2rem; font-size: .85rem; color: #555; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Emotions in a photo</h1>
<p>Upload a photo: emolib finds the faces, names each face's emotion and sums up the group's mood.
The photo is analysed in memory and not stored.</p>
<form method="post" action="{{ url_for('upload_page') }}" enctype="multipart/form-data">
  <input type="file" id="file" name="file" accept="{{ accept }}" required>
  <button type="submit" id="submit">Analyse</button>
  <small>{{ limits }}</small>
</form>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
{% if result %}
<section id="result">
  <h2>{{ result.image }}</h2>
  {% if result.group %}
  <p class="mood">Group mood: <strong id="group-label">{{ result.group.label }}</strong>
     (confidence <span id="group-confidence">{{ '%.2f' % result.group.confidence }}</span>)</p>
  {% endif %}
  {% if not result.faces %}
  <p id="no-face">{{ result.message }} (faces of at least {{ result.smallest_face_searched }} px
     were searched){% if result.fallback %}: the whole image was classified instead
     (<span id="fallback-emotion">{{ result.fallback.emotion }}</span>){% else %}, so no emotion
     is given{% endif %}.</p>
  {% endif %}
  <svg id="photo" viewBox="0 0 {{ width }} {{ height }}" width="{{ width }}" height="{{ height }}"
       xmlns="http://www.w3.org/2000/svg" role="img" aria-label="the photo with face boxes">
    <image href="{{ image_url }}" x="0" y="0" width="{{ width }}" height="{{ height }}"/>
    {% for face in faces %}
    <rect x="{{ face.x }}" y="{{ face.y }}" width="{{ face.w }}" height="{{ face.h }}" fill="none"
          stroke="{{ face.colour }}" stroke-width="{{ stroke }}"/>
    <text x="{{ face.x }}" y="{{ face.label_y }}" fill="{{ face.colour }}" font-size="{{ font }}"
          font-weight="bold" class="face-label">{{ loop.index }}: {{ face.emotion }}</text>
    {% endfor %}
  </svg>
  {% if result.faces %}
  <table id="faces">
    <tr><th>face</th><th>emotion</th><th>probability</th><th>next most likely</th></tr>
    {% for face in faces %}
    <tr><td>{{ loop.index }}</td><td class="emotion" id="face-{{ loop.index }}-emotion">{{ face.emotion }}</td>
        <td>{{ '%.2f' % face.p }}</td><td>{{ face.runner_up }}</td></tr>
    {% endfor %}
  </table>
  {% endif %}
</section>
{% endif %}
<footer>Model: {{ about }}</footer>
</body>
</html>
"""
